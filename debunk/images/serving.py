"""The image hash index a serving process matches against, served like the text index
(`debunk.matching.serving.IndexServer`): a snapshot shared by the machine's workers (memory-mapped), plus the
rumors changed since (`IndexChange` rows: a rumor published, retracted, or an image of a live rumor added or
removed), so a change is served within MATCH_INDEX_POLL_SECONDS.

Entries are the stored fingerprints (`ImageFingerprint`): nothing is decoded to build the index. A stored image
whose PDQ quality is under IMAGE_HASH_MIN_QUALITY (a flat or nearly empty picture) is left out: its hash says
little, and it would match every other flat picture.
"""

from collections.abc import Iterator

import numpy as np
from django.conf import settings

from debunk.images.index import STOCK_FORMAT, ImageEntry, ImageStockIndex
from debunk.matching.serving import IndexServer


def _entries(rumor_ids: list[int] | None = None) -> Iterator[ImageEntry]:
    from debunk.images.models import ImageFingerprint
    from debunk.images.pipeline import ALGORITHM
    from debunk.stock.models import Rumor

    live = Rumor.objects.live()
    if rumor_ids is not None:
        live = live.filter(pk__in=rumor_ids)
    rows = ImageFingerprint.objects.filter(
        rumor__in=live.values("pk"), algorithm=ALGORITHM, quality__gte=settings.IMAGE_HASH_MIN_QUALITY
    ).values_list("pk", "rumor_id", "dihedral")
    for pk, rumor_id, dihedral in rows.iterator(chunk_size=2000):
        words = np.frombuffer(bytes(dihedral), dtype=">u8").astype(np.uint64).reshape(-1, 4)
        yield ImageEntry(pk, rumor_id, words)


IMAGES = IndexServer(
    "image index",
    entries=_entries,
    build=lambda entries, version: ImageStockIndex(entries, version),
    load=ImageStockIndex.load,
    subdir="images",
    format=STOCK_FORMAT,
)


def current_image_index() -> ImageStockIndex:
    return IMAGES.current()
