"""The vector index of rumor texts a process searches, served like the text and image indexes
(`debunk.matching.serving.IndexServer`): a memory-mapped snapshot under the "semantic" sub-directory plus the rumors
changed since (`IndexChange` rows), so a newly embedded rumor is served within MATCH_INDEX_POLL_SECONDS.

Entries are the stored `ClaimEmbedding` rows of live rumors, for the current model only: nothing is embedded to
build the index. A rumor published before its embedding task ran is simply absent until the task stores the
vector and bumps the version.
"""

from collections.abc import Iterator

from debunk.matching.serving import IndexServer
from debunk.semantic.conf import load_model
from debunk.semantic.embedder import DIMENSIONS, MODEL, from_bytes
from debunk.semantic.index import FORMAT, VectorEntry, VectorIndex


def _entries(rumor_ids: list[int] | None = None) -> Iterator[VectorEntry]:
    from debunk.semantic.models import ClaimEmbedding
    from debunk.stock.models import Rumor

    live = Rumor.objects.live()
    if rumor_ids is not None:
        live = live.filter(pk__in=rumor_ids)
    rows = ClaimEmbedding.objects.filter(rumor__in=live.values("pk"), model=MODEL, dimensions=DIMENSIONS)
    for pk, rumor_id, vector in rows.values_list("pk", "rumor_id", "vector").iterator(chunk_size=2000):
        yield VectorEntry(pk, rumor_id, from_bytes(vector))


SEMANTIC = IndexServer(
    "semantic index",
    entries=_entries,
    build=lambda entries, version: VectorIndex(entries, version, dimensions=DIMENSIONS),
    load=VectorIndex.load,
    subdir="semantic",
    format=FORMAT,
    on_first_load=load_model,  # a process that serves the index embeds queries too: load the model at start
)


def current_vector_index() -> VectorIndex:
    return SEMANTIC.current()
