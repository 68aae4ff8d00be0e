from django.db import models
from django.utils.translation import gettext_lazy as _


class ClaimEmbedding(models.Model):
    """The stored embedding of one rumor text (its claim or a variant) by the optional semantic model, so that the
    vector index rebuilds without running the model again. `vector` is little-endian float32 bytes."""

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="embeddings"
    )
    variant = models.OneToOneField(
        "debunk.RumorVariant",
        verbose_name=_("variant"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="embedding",
    )
    model = models.CharField(_("model"), max_length=60)
    dimensions = models.PositiveSmallIntegerField(_("dimensions"))
    vector = models.BinaryField(_("vector"))
    text_hash = models.CharField(_("SHA-256 of the embedded text"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("claim embedding")
        verbose_name_plural = _("claim embeddings")
        constraints = [
            models.UniqueConstraint(
                fields=["rumor", "model"],
                condition=models.Q(variant__isnull=True),
                name="embedding_one_claim_per_rumor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.rumor_id}"
