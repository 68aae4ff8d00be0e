from django.db import models
from django.utils.translation import gettext_lazy as _

from debunk.images.hashing import HASH_BYTES


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
