from django.db import models
from django.utils.translation import gettext_lazy as _

from debunk.images.hashing import HASH_BYTES
from debunk.webhooks.models import OutboxMessage


class ImageFingerprint(models.Model):
    """The perceptual hashes of one rumor image (an attachment of role "image of the rumor"), stored so that the
    image index is rebuilt without decoding the stock again. Derived data: `debunk.images.services` keeps it in
    step with the attachments, `images_reindex` recomputes it after a change of algorithm."""

    attachment = models.ForeignKey(
        "debunk.Attachment",
        verbose_name=_("attachment"),
        on_delete=models.CASCADE,
        related_name="image_fingerprints",
    )
    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="image_fingerprints"
    )
    algorithm = models.CharField(_("algorithm"), max_length=32)
    pdq = models.BinaryField(_("PDQ hash"), max_length=HASH_BYTES)
    quality = models.PositiveSmallIntegerField(_("quality"))
    dihedral = models.BinaryField(_("dihedral hashes"), max_length=8 * HASH_BYTES)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    ocr_text = models.TextField(_("OCR text"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("image fingerprint")
        verbose_name_plural = _("image fingerprints")
        constraints = [
            models.UniqueConstraint(fields=["attachment", "algorithm"], name="image_fingerprint_unique_algorithm"),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.pdq_hex}"

    @property
    def pdq_hex(self) -> str:
        return bytes(self.pdq).hex() if self.pdq is not None else ""


class MatchJob(models.Model):
    """Match requests answered later: a batch's images that need reading (OCR), or a caller that asked for an
    asynchronous answer. The request is kept (its images in storage) until the job is done, so a worker or broker
    outage delays the answer but loses nothing; the platform gets the results by webhook (`match.completed`) and
    from `GET /api/v1/match/jobs/<id>`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE, related_name="match_jobs"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    lang = models.CharField(_("language"), max_length=10, blank=True)
    items = models.JSONField(_("items"), help_text=_("The requests: id, text, context, post id, stored image name."))
    results = models.JSONField(_("results"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("match job")
        verbose_name_plural = _("match jobs")
        indexes = [
            models.Index(fields=["created_at"], name="match_job_pending", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.status}"


class MatchJobNotice(OutboxMessage):
    """Outbox: a finished match job's results, pushed to its platform by webhook (`match.completed`), retried
    until delivered (the results stay readable at GET /api/v1/match/jobs/<id> meanwhile)."""

    job = models.OneToOneField(MatchJob, verbose_name=_("match job"), on_delete=models.CASCADE, related_name="notice")
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)

    class Meta(OutboxMessage.Meta):
        verbose_name = _("match job notice")
        verbose_name_plural = _("match job notices")

    def __str__(self) -> str:
        return f"match.completed {self.message_id}"
