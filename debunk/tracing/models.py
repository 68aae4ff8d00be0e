"""First-poster tracing: each run for a rumor is kept, with its evidence, and never changed afterwards."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Trace(models.Model):
    """One tracing of a rumor through the post archive: the propagation forest's summary, its first posters
    and amplifiers, and the evidence bundle (canonical JSON) with its SHA-256. Immutable once written."""

    rumor = models.ForeignKey("debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="traces")
    created_at = models.DateTimeField(_("traced at"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("traced by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    posts = models.PositiveIntegerField(_("posts in the cascade"), default=0)
    roots = models.PositiveIntegerField(_("independent origins"), default=0)
    clock_skew_seconds = models.PositiveIntegerField(_("clock skew tolerated (s)"), default=0)
    summary = models.JSONField(_("summary"), default=dict, help_text=_("Growth over time, amplifiers, forest shape."))
    evidence = models.JSONField(_("evidence bundle"), default=dict)
    evidence_sha256 = models.CharField(_("evidence SHA-256"), max_length=64)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("trace")
        verbose_name_plural = _("traces")

    def __str__(self) -> str:
        return f"{self.rumor_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class FirstPoster(models.Model):
    """An origin found by a trace: the earliest matching original post, overall or on one platform."""

    class Kind(models.TextChoices):
        SOURCE = "source", _("source")
        EARLIEST_KNOWN = "earliest_known", _("earliest known (the source may be missing)")

    trace = models.ForeignKey(Trace, verbose_name=_("trace"), on_delete=models.CASCADE, related_name="first_posters")
    scope_platform = models.ForeignKey(
        "debunk.Platform",
        verbose_name=_("platform scope"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: first overall (across platforms)."),
    )
    post = models.ForeignKey(
        "debunk.Post", verbose_name=_("post"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.PROTECT, related_name="+"
    )
    platform_post_id = models.CharField(_("platform post id"), max_length=128)
    author_hash = models.CharField(_("author (HMAC)"), max_length=64, blank=True, db_index=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    similarity = models.FloatField(_("similarity"), default=0.0)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    root_index = models.PositiveIntegerField(_("origin number"), default=0, help_text=_("Which independent origin."))
    subtree_size = models.PositiveIntegerField(_("posts below it"), default=0)

    class Meta:
        ordering = ["trace", "scope_platform_id", "root_index"]
        verbose_name = _("first poster")
        verbose_name_plural = _("first posters")

    def __str__(self) -> str:
        return f"{self.platform_post_id} ({self.get_kind_display()})"
