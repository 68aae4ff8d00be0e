"""The database backend's inverted index: one row per indexed rumor, one row per (term, rumor) posting.

Both are derived data, rebuilt by `search_reindex`; there is no foreign key to the rumor so that the index can also
live in a throwaway database (evaluation, benchmark) and never blocks deleting a rumor.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IndexedRumor(models.Model):
    """What the database backend knows of one live rumor: its texts (for highlighting), filters and its terms."""

    rumor_id = models.BigIntegerField(_("rumor id"), primary_key=True)
    claim = models.TextField(_("claim"))
    title = models.TextField(_("debunk titles"), blank=True)
    body = models.TextField(_("debunk texts"), blank=True)
    category_id = models.BigIntegerField(_("category id"), null=True, blank=True)
    verdict = models.CharField(_("verdict code"), max_length=32, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    has_debunk = models.BooleanField(_("has a published debunk"), default=False)
    length = models.FloatField(_("weighted length"), default=0)
    terms = models.BinaryField(_("term hashes"), default=b"", help_text=_("Little-endian int64 hashes of its terms."))
    indexed_at = models.DateTimeField(_("indexed at"), auto_now=True)

    class Meta:
        verbose_name = _("indexed rumor")
        verbose_name_plural = _("indexed rumors")
        # The scoring query looks rumors up by these (filters, and the few without a published debunk).
        indexes = [
            models.Index(fields=["has_debunk"], name="search_indexed_debunked"),
            models.Index(fields=["category_id"], name="search_indexed_category"),
            models.Index(fields=["verdict"], name="search_indexed_verdict"),
            models.Index(fields=["published_at"], name="search_indexed_published"),
        ]

    def __str__(self) -> str:
        return f"rumor {self.rumor_id}"


class Posting(models.Model):
    """Term (a 64-bit hash) → rumor, with the term's BM25 weight in that rumor; idf is applied at query time."""

    term = models.BigIntegerField(_("term hash"))
    rumor_id = models.BigIntegerField(_("rumor id"))
    weight = models.FloatField(_("weight"))

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        # Covering index: a query reads only this index, term by term (also serves deletes by term and rumor).
        indexes = [models.Index(fields=["term", "rumor_id", "weight"], name="search_posting_term_rumor")]

    def __str__(self) -> str:
        return f"{self.term} → {self.rumor_id}"
