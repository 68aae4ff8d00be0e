"""The claim index a serving process searches (debunk.matching.claims.ClaimIndex), served like the text index
(`debunk.matching.serving.IndexServer`): a snapshot shared by the machine's workers (memory-mapped, sub-directory
"claims"), plus the rumors changed since (the same `IndexChange` versions: a rumor published or retracted, a
variant added or removed), so a change is served within MATCH_INDEX_POLL_SECONDS.

Entries are the live rumors' claims (entry id: the rumor's id) and variants (entry id: minus the variant's id),
except texts shorter than SHORT_TEXT once normalised (they match by exact hash only, as in the near-duplicate stage).
The document frequencies of a snapshot also count a background of the newest CLAIM_BACKGROUND_POSTS posts of the
archive (their texts), so that wording common in ordinary posts weighs little; deltas keep the snapshot's weights.
"""

from collections.abc import Iterable, Iterator

from django.conf import settings

from debunk.matching.claims import FORMAT, ClaimEntry, ClaimIndex
from debunk.matching.fingerprint import SHORT_TEXT
from debunk.matching.normalize import normalize_text
from debunk.matching.serving import IndexServer


def _long_enough(text: str) -> bool:
    """A text shorter than SHORT_TEXT once normalised matches by its exact hash only (the near-duplicate rule): a
    few characters say too little for a rewording to be recognised."""
    return len(normalize_text(text)) >= SHORT_TEXT


def _entries(rumor_ids: list[int] | None = None) -> Iterator[ClaimEntry]:
    from debunk.stock.models import Rumor, RumorVariant

    live = Rumor.objects.live()
    if rumor_ids is not None:
        live = live.filter(pk__in=rumor_ids)
    for rumor_id, claim in live.values_list("pk", "claim").iterator(chunk_size=2000):
        if _long_enough(claim):
            yield ClaimEntry(rumor_id, rumor_id, claim)
    variants = RumorVariant.objects.filter(rumor__in=live.values("pk")).values_list("pk", "rumor_id", "text")
    for pk, rumor_id, text in variants.iterator(chunk_size=2000):
        if _long_enough(text):
            yield ClaimEntry(-pk, rumor_id, text)


def background_texts() -> list[str]:
    """The texts of the newest CLAIM_BACKGROUND_POSTS posts of the archive (posts reported through POST /posts;
    those the match API queued are suspected of carrying rumors, not a picture of ordinary posts)."""
    from debunk.matching.models import Post

    limit = settings.CLAIM_BACKGROUND_POSTS
    if limit <= 0:
        return []
    rows = Post.objects.filter(archived=True).exclude(text="").order_by("-pk").values_list("text", flat=True)
    return list(rows[:limit])


def _build(entries: Iterable[ClaimEntry], version: int) -> ClaimIndex:
    return ClaimIndex(entries, version=version, background=background_texts())


CLAIMS = IndexServer(
    "claim index",
    entries=_entries,
    build=_build,
    load=ClaimIndex.load,
    subdir="claims",
    format=FORMAT,
)


def current_claim_index() -> ClaimIndex:
    return CLAIMS.current()
