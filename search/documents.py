"""What of a rumor goes into the search index: its claim, its published debunks' titles and texts, its filters."""

from __future__ import annotations

import re
from collections.abc import Iterator

from debunk.stock.models import Rumor
from debunk.stock.selectors import public_rumors
from search.backends.base import RumorDocument

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_MARKS = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+\.\s+)|[*_`~]{1,3}")


def markdown_to_text(source: str) -> str:
    """Markdown as the reader sees it, roughly: link texts kept, emphasis and heading marks dropped."""
    return _MARKDOWN_MARKS.sub("", _MARKDOWN_LINK.sub(r"\1", source))


def rumor_document(rumor: Rumor) -> RumorDocument:
    """The document of a rumor fetched with public_rumors() (its published debunks prefetched)."""
    debunks = [d for d in rumor.debunks.all() if d.published_at is not None]
    return RumorDocument(
        rumor_id=rumor.pk,
        claim=rumor.claim,
        title="\n".join(d.title for d in debunks),
        body="\n\n".join(f"{d.summary}\n{markdown_to_text(d.body)}" for d in debunks),
        category_id=rumor.category_id,
        verdict=rumor.verdict.code,
        published_at=rumor.published_at,
        has_debunk=bool(debunks),
    )


def live_documents(chunk_size: int = 1000) -> Iterator[RumorDocument]:
    """Every live rumor's document, read in chunks."""
    for rumor in public_rumors().order_by("pk").iterator(chunk_size=chunk_size):
        yield rumor_document(rumor)
