"""The rumor stock: rumors, their variants and sources, their debunks and evidence attachments."""

from functools import cached_property

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from debunk.core.markdown import render_markdown


class RumorQuerySet(models.QuerySet):
    def live(self) -> "RumorQuerySet":
        """Published and inside its validity window: what matching and the public pages show."""
        now = timezone.now()
        return self.filter(status=Rumor.Status.PUBLISHED).filter(
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=now)
        )


class Rumor(models.Model):
    """A verified rumor: the canonical claim, its labels and its place in the review workflow."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        IN_REVIEW = "in_review", _("in review")
        PUBLISHED = "published", _("published")
        RETRACTED = "retracted", _("retracted")
        EXPIRED = "expired", _("expired")

    claim = models.TextField(_("claim"), help_text=_("The rumor's canonical text, as it circulated."))
    category = models.ForeignKey(
        "labels.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="rumors"
    )
    verdict = models.ForeignKey(
        "labels.VerdictLabel", verbose_name=_("verdict"), on_delete=models.PROTECT, related_name="rumors"
    )
    severity = models.PositiveSmallIntegerField(
        _("severity"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 (minor) to 5 (most harmful)."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    status_reason = models.TextField(_("reason for the last status change"), blank=True)
    valid_until = models.DateTimeField(
        _("valid until"), null=True, blank=True, help_text=_("After this time the rumor expires and stops matching.")
    )
    first_seen_at = models.DateTimeField(_("first seen at"), null=True, blank=True)
    origin_platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("origin platform"), null=True, blank=True, on_delete=models.SET_NULL
    )
    verified_by = models.CharField(
        _("verifying authority"),
        max_length=200,
        blank=True,
        help_text=_("As imported or typed; an answered verification request is the record (`verification`)."),
    )
    verification = models.ForeignKey(
        "debunk.VerificationRequest",
        verbose_name=_("verification on record"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    external_id = models.CharField(_("external id"), max_length=100, unique=True, null=True, blank=True)
    review_due_at = models.DateTimeField(_("review due at"), null=True, blank=True, db_index=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = RumorQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rumor")
        verbose_name_plural = _("rumors")
        permissions = [
            ("submit_rumor", _("Can submit a rumor for review")),
            ("review_rumor", _("Can review, publish and retract rumors")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(severity__gte=1, severity__lte=5), name="rumor_severity_1_5"),
        ]

    def __str__(self) -> str:
        text = " ".join(self.claim.split())
        return text if len(text) <= 40 else text[:39] + "…"

    def get_absolute_url(self) -> str:
        return reverse("rumor-detail", args=[self.pk])

    @property
    def published_debunks(self) -> list["Debunk"]:
        """Published debunk articles, newest first (uses the prefetch of `selectors.public_rumors`)."""
        return [d for d in self.debunks.all() if d.published_at is not None]

    @property
    def latest_debunk(self) -> "Debunk | None":
        debunks = self.published_debunks
        return debunks[0] if debunks else None

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.IN_REVIEW and bool(self.review_due_at) and self.review_due_at < timezone.now()


class RumorVariant(models.Model):
    """A further text of the same rumor (reworded, cut, translated); each is fingerprinted for matching."""

    rumor = models.ForeignKey(Rumor, verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="variants")
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        editable=False,
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")

    def __str__(self) -> str:
        return self.text[:40]


class RumorSource(models.Model):
    """Where the rumor was seen: links to the posts or pages that carried it."""

    rumor = models.ForeignKey(Rumor, verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="sources")
    url = models.URLField(_("URL"), max_length=1000)
    title = models.CharField(_("title"), max_length=300, blank=True)
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("source link")
        verbose_name_plural = _("source links")

    def __str__(self) -> str:
        return self.title or self.url


class ReviewItem(Rumor):
    """The review queue: rumors in review, earliest deadline first (a view on Rumor, not a table)."""

    class Meta:
        proxy = True
        verbose_name = _("review queue item")
        verbose_name_plural = _("review queue")


SUMMARY_MAX = 120


class Debunk(models.Model):
    """A debunk article for a rumor; a rumor may gather several (updates, other languages)."""

    rumor = models.ForeignKey("debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="debunks")
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(
        _("card summary"), max_length=SUMMARY_MAX, help_text=_("Shown on cards; at most 120 characters.")
    )
    body = models.TextField(_("body"), help_text=_("Markdown; HTML is sanitised when rendered."))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        editable=False,
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("debunk article")
        verbose_name_plural = _("debunk articles")

    def __str__(self) -> str:
        return self.title

    @cached_property
    def body_html(self) -> str:
        return render_markdown(self.body)


class DebunkSource(models.Model):
    """An authoritative source cited by a debunk (a notice, a statement, a report)."""

    debunk = models.ForeignKey(
        Debunk, verbose_name=_("debunk article"), on_delete=models.CASCADE, related_name="sources"
    )
    title = models.CharField(_("title"), max_length=300)
    url = models.URLField(_("URL"), max_length=1000)

    class Meta:
        ordering = ["id"]
        verbose_name = _("authority source")
        verbose_name_plural = _("authority sources")

    def __str__(self) -> str:
        return self.title


class Attachment(models.Model):
    """An image of the rumor or a piece of evidence, validated by content and fingerprinted by SHA-256."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("image")
        DOCUMENT = "document", _("document")

    class Role(models.TextChoices):
        RUMOR_IMAGE = "rumor_image", _("image of the rumor")
        EVIDENCE = "evidence", _("evidence")

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, editable=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.EVIDENCE)
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    thumbnail = models.ImageField(_("thumbnail"), upload_to="thumbnails/%Y/%m/", blank=True, editable=False)
    original_name = models.CharField(_("original name"), max_length=255, blank=True, editable=False)
    content_type = models.CharField(_("content type"), max_length=100, editable=False)
    size = models.PositiveBigIntegerField(_("size (bytes)"), editable=False)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True, editable=False)
    sha256 = models.CharField(_("SHA-256 of the stored file"), max_length=64, db_index=True, editable=False)
    original_sha256 = models.CharField(_("SHA-256 of the upload"), max_length=64, editable=False)
    caption = models.CharField(_("caption"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name or self.file.name
