"""Early warning: interception counts per rumor, platform, action and period; surge and resurgence alerts with
their subscriptions and notices; the notices that tell a platform which of its archived posts now match a rumor
(or no longer do)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from debunk.webhooks.models import OutboxMessage


class InterceptionCount(models.Model):
    """How many match answers carried a rumor, per platform, action and hour (or day, once rolled up). No post
    text or id is kept: counts only."""

    class Period(models.TextChoices):
        HOUR = "hour", _("hour")
        DAY = "day", _("day")

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="interception_counts"
    )
    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE, related_name="interception_counts"
    )
    action = models.CharField(_("action"), max_length=10)
    period = models.CharField(_("period"), max_length=4, choices=Period.choices, default=Period.HOUR)
    start = models.DateTimeField(_("period start"))
    count = models.PositiveBigIntegerField(_("count"), default=0)

    class Meta:
        ordering = ["-start", "rumor"]
        verbose_name = _("interception count")
        verbose_name_plural = _("interception counts")
        constraints = [
            models.UniqueConstraint(
                fields=["rumor", "platform", "action", "period", "start"], name="interception_count_unique"
            )
        ]
        indexes = [
            models.Index(fields=["period", "start"], name="interception_period_start"),
            models.Index(fields=["rumor", "period", "start"], name="interception_rumor_start"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.rumor_id}/{self.platform_id}/{self.action} {self.period} {self.start:%Y-%m-%d %H:%M}: {self.count}"
        )


class Alert(models.Model):
    """A rumor (or an unmatched lead) spreading faster than its own baseline, or an old rumor matching again.
    At most one open alert per rumor and per lead: a new surge updates it."""

    class Kind(models.TextChoices):
        SURGE = "surge", _("surge")
        RESURGENCE = "resurgence", _("old rumor spreading again")
        LEAD_SURGE = "lead_surge", _("unmatched content spreading fast")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ACKNOWLEDGED = "acknowledged", pgettext_lazy("alert status", "acknowledged")
        CLOSED = "closed", _("closed")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    cluster = models.ForeignKey(
        "debunk.LeadCluster",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    last_period = models.DateTimeField(_("latest hour"), help_text=_("The start of the hour the figures are of."))
    observed = models.PositiveIntegerField(_("observed in the hour"), default=0)
    expected = models.FloatField(_("expected (baseline)"), default=0.0)
    p_value = models.FloatField(_("p-value"), null=True, blank=True)
    peak = models.PositiveIntegerField(_("peak hourly count"), default=0)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        permissions = [("acknowledge_alert", _("Can acknowledge and close alerts"))]
        constraints = [
            models.UniqueConstraint(
                fields=["rumor"],
                condition=Q(rumor__isnull=False) & ~Q(status="closed"),
                name="one_open_alert_per_rumor",
            ),
            models.UniqueConstraint(
                fields=["cluster"],
                condition=Q(cluster__isnull=False) & ~Q(status="closed"),
                name="one_open_alert_per_lead",
            ),
            models.CheckConstraint(
                condition=Q(rumor__isnull=False, cluster__isnull=True) | Q(rumor__isnull=True, cluster__isnull=False),
                name="alert_rumor_or_lead",
            ),
        ]

    def __str__(self) -> str:
        subject = f"rumor #{self.rumor_id}" if self.rumor_id else f"lead #{self.cluster_id}"
        return f"{self.get_kind_display()}: {subject}"


class AlertSubscription(models.Model):
    """Who is told of alerts: a platform (signed webhook `alert.*`) or a staff account (e-mail)."""

    platform = models.OneToOneField(
        "debunk.Platform",
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_subscription",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_subscription",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("alert subscription")
        verbose_name_plural = _("alert subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=Q(platform__isnull=False, user__isnull=True) | Q(platform__isnull=True, user__isnull=False),
                name="alert_subscription_platform_or_user",
            )
        ]

    def __str__(self) -> str:
        return str(self.platform or self.user)


class AlertNotice(OutboxMessage):
    """Outbox: an alert raised or updated, pushed to a subscribed platform's webhook."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="notices")
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta(OutboxMessage.Meta):
        verbose_name = _("alert notice")
        verbose_name_plural = _("alert notices")

    def __str__(self) -> str:
        return f"{self.event} {self.message_id}"


class PostMatchNotice(OutboxMessage):
    """Outbox and pull feed: which of a platform's archived posts now match a rumor (`posts.matched`, after a
    publication or a new variant or image) or no longer do (`posts.unmatched`, after a retraction)."""

    class Event(models.TextChoices):
        MATCHED = "posts.matched", _("posts matched")
        UNMATCHED = "posts.unmatched", _("posts no longer matched")

    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE, related_name="post_match_notices"
    )
    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="post_match_notices"
    )
    event = models.CharField(_("event"), max_length=20, choices=Event.choices)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta(OutboxMessage.Meta):
        verbose_name = _("post match notice")
        verbose_name_plural = _("post match notices")
        indexes = [models.Index(fields=["platform", "id"], name="post_match_notice_feed")]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id}"
