from functools import cached_property

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from debunk.markdown import render_markdown

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
