from django.conf import settings
from django.db import models
from django.utils import timezone
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


class ApiKey(models.Model):
    """A platform's credential for the HTTP API: `dbk_<prefix>_<secret>`, of which only the prefix and a hash
    are stored. Keys are never edited; a compromised or unused key is revoked and a new one created."""

    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.PROTECT, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What the key is for, e.g. “production”."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    # SHA-256 hex of the whole key. A key carries 32 random bytes (256 bits) from `secrets`, so guessing it from
    # the hash is as hopeless as guessing the key itself; slow password hashes (PBKDF2, Argon2) only help
    # low-entropy human passwords and would add milliseconds to every API request.
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(
        _("last used at"), null=True, blank=True, editable=False, help_text=_("Updated at most once a minute.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.display_prefix}… ({self.name})"

    @property
    def display_prefix(self) -> str:
        return f"dbk_{self.prefix}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ApiRequestLog(models.Model):
    """One API request of an authenticated platform: what was called, how it ended and how long it took.
    Never the request body or the text of a post."""

    platform = models.ForeignKey(
        "debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=200, help_text=_("The route, without the query string."))
    status_code = models.PositiveSmallIntegerField(_("status code"))
    latency_ms = models.FloatField(_("latency (ms)"))
    outcome = models.CharField(_("outcome"), max_length=32, blank=True)
    items = models.PositiveIntegerField(_("items"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API request")
        verbose_name_plural = _("API request log")
        # Serves a platform's own log, newest first (GET /api/v1/logs); the platform FK needs no other index.
        indexes = [models.Index(fields=["platform", "-created_at"], name="debunk_apilog_platform_at")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"
