from django.db import models
from django.utils.translation import gettext_lazy as _

from labels.models import code_validator


class Platform(models.Model):
    """A platform that reports posts to Debunk and receives its decisions (API keys come with matching)."""

    code = models.SlugField(_("code"), max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")

    def __str__(self) -> str:
        return self.name
