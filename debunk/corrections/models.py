"""Corrections: who saw which post (exposures), which users are to be told a rumor was debunked
(corrections), and how the news reaches the platforms (webhook endpoints and deliveries).

User ids never appear here: `user_hash` is a keyed HMAC of the platform's pseudonymous id.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from debunk.webhooks.models import OutboxMessage


class Interaction(models.IntegerChoices):
    """How a user met a post; the value is the correction priority tier (lower goes first)."""

    REPOST = 1, _("repost")
    SHARE = 2, _("share")
    COMMENT = 3, _("comment")
    LIKE = 4, _("like")
    VIEW = 5, _("view")


class Exposure(models.Model):
    """A user of a platform saw or interacted with a post. Kept even before the post itself arrives."""

    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)
    platform_post_id = models.CharField(_("platform post id"), max_length=128)
    post = models.ForeignKey(
        "debunk.Post", verbose_name=_("post"), null=True, blank=True, on_delete=models.CASCADE, related_name="exposures"
    )
    user_hash = models.CharField(_("user (HMAC)"), max_length=64)
    interaction = models.PositiveSmallIntegerField(_("interaction"), choices=Interaction.choices)
    at = models.DateTimeField(_("at"), db_index=True)
    created_at = models.DateTimeField(_("received at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("exposure")
        verbose_name_plural = _("exposures")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_post_id", "user_hash", "interaction"], name="exposure_unique_report"
            )
        ]
        indexes = [models.Index(fields=["post", "interaction"], name="debunk_exposure_post")]

    def __str__(self) -> str:
        return f"{self.platform_post_id} {self.get_interaction_display()} {self.user_hash[:8]}"


class Correction(models.Model):
    """One message for one user of one platform about one rumor: the correction, or an update after the
    rumor was retracted or its verdict changed (one per change, keyed by `revision`)."""

    class Kind(models.TextChoices):
        CORRECTION = "correction", _("correction")
        UPDATE = "update", _("update")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DEFERRED = "deferred", _("deferred (daily cap)")
        SENDING = "sending", _("in a delivery")
        DELIVERED = "delivered", _("delivered to the platform")
        ACKNOWLEDGED = "acknowledged", _("shown to the user")
        CLICKED = "clicked", _("clicked")
        FAILED = "failed", _("delivery failed")
        CANCELLED = "cancelled", _("cancelled (rumor retracted before delivery)")

    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)
    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="corrections"
    )
    user_hash = models.CharField(_("user (HMAC)"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CORRECTION)
    revision = models.BigIntegerField(
        _("revision"), default=0, help_text=_("0 for the correction; the change for an update.")
    )
    interaction = models.PositiveSmallIntegerField(_("strongest interaction"), choices=Interaction.choices)
    exposed_at = models.DateTimeField(_("last exposed at"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    not_before = models.DateTimeField(
        _("not before"), null=True, blank=True, help_text=_("Deferred by the daily cap until then.")
    )
    delivery = models.ForeignKey(
        "debunk.WebhookDelivery",
        verbose_name=_("delivery"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="corrections",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("correction")
        verbose_name_plural = _("corrections")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "rumor", "user_hash", "kind", "revision"], name="correction_once_per_user"
            )
        ]
        indexes = [
            models.Index(fields=["platform", "status", "interaction", "exposed_at"], name="debunk_corr_queue"),
            models.Index(fields=["platform", "user_hash", "created_at"], name="debunk_corr_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.rumor_id} → {self.user_hash[:8]}"


class WebhookDelivery(OutboxMessage):
    """One signed POST of up to 1,000 corrections to an endpoint, retried until delivered or dead."""

    endpoint = models.ForeignKey(
        "debunk.WebhookEndpoint", verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries"
    )

    class Meta(OutboxMessage.Meta):
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return self.message_id
