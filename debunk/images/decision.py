"""Is this picture a known rumor? The two paths of the decision, shared by the image service and `bench_images`
(pure: no Django).

- `hash_hits`: the query's PDQ hash against the image hash index, which holds the 8 dihedral variants of every
  stored rumor image under the same rumor id, so a mirrored or rotated copy is found by the query's own hash.
  A query hash of PDQ quality under `MIN_QUALITY` is not trusted (flat, low-information pictures: their hashes
  sit close to each other whatever the picture) and answers nothing; `hash_trusted` tells the caller, so it can
  say why and go on to OCR.
- `ocr_hits`: the picture's OCR text against the text matcher's index (`debunk.matching`): the share of each
  rumor's character 3-grams found in the text (containment), so a screenshot's interface text around the rumor
  costs nothing. Besides the whole text, runs of its lines are scored too (`line_groups`): the matcher finds its
  candidates by MinHash of the whole text and of fixed windows of it, and a rumor read inside a screenshot full
  of other text can share too little with either to become a candidate (`bench_images` measures both ways).

Thresholds: a hash at distance <= `HASH_AUTO` (31, `hashing.MATCH_DISTANCE`) or a containment >= `OCR_AUTO` is a
match; up to `HASH_REVIEW` / from `OCR_REVIEW` a case for a reviewer. The service makes them configurable; these
are the defaults `bench_images` measures.
"""

from collections.abc import Iterable

import numpy as np

from debunk.images.hashing import MATCH_DISTANCE, PdqHash
from debunk.images.index import ImageHashIndex
from debunk.images.pipeline import ImagePrint
from debunk.matching.index import MatchIndex
from debunk.matching.matcher import prepare, score_prepared

HASH_AUTO = MATCH_DISTANCE  # 31
HASH_REVIEW = 40
MIN_QUALITY = 50  # PDQ quality under which a hash is not trusted (Meta's own recommendation for PDQ)
OCR_AUTO = 0.8
OCR_REVIEW = 0.5
# Line groups scored beside the whole OCR text: runs of this many consecutive lines, starting every STEP lines.
GROUP_LINES = (4, 8, 16)
GROUP_STEP = 2


def hash_trusted(query: ImagePrint | PdqHash, min_quality: int = MIN_QUALITY) -> bool:
    """Whether the picture's hash carries enough information to be matched (PDQ quality >= min_quality)."""
    return query.quality >= min_quality


def hash_hits(
    index: ImageHashIndex,
    query: ImagePrint | PdqHash,
    max_distance: int = HASH_REVIEW,
    *,
    min_quality: int = MIN_QUALITY,
) -> list[tuple[int, int]]:
    """[(rumor_id, distance)] of the stored rumor images within max_distance of the query's hash, nearest first,
    one row per rumor; [] for an untrusted (low-quality) query hash or an empty index."""
    pdq = query.pdq if isinstance(query, ImagePrint) else query
    if not hash_trusted(pdq, min_quality) or len(index) == 0:
        return []
    return index.query(pdq, max_distance)


def stock_rows(prints: Iterable[tuple[int, ImagePrint]]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of an image hash index for (rumor_id, print) pairs: the 8 dihedral hashes of each picture under its
    rumor id, as `ImageHashIndex.build` takes them."""
    hashes: list[bytes] = []
    ids: list[int] = []
    for rumor_id, fp in prints:
        hashes.extend(h.bits for h in fp.dihedral)
        ids.extend([rumor_id] * len(fp.dihedral))
    if not hashes:
        return np.zeros((0, 4), np.uint64), np.zeros(0, np.int64)
    words = np.frombuffer(b"".join(hashes), dtype=">u8").astype(np.uint64).reshape(-1, 4)
    return words, np.array(ids, dtype=np.int64)


def line_groups(text: str, sizes: tuple[int, ...] = GROUP_LINES, step: int = GROUP_STEP) -> list[str]:
    """Runs of consecutive lines of an OCR text (newline-separated), each size of `sizes` starting every `step`
    lines, for texts longer than that size; duplicates dropped."""
    lines = [line for line in text.split("\n") if line.strip()]
    groups: list[str] = []
    seen: set[str] = set()
    for size in sizes:
        if len(lines) <= size:
            continue
        for start in range(0, len(lines) - size + step, step):
            group = "\n".join(lines[start : start + size])
            if group not in seen:
                seen.add(group)
                groups.append(group)
    return groups


def ocr_hits(
    index: MatchIndex, ocr_text: str, min_containment: float = OCR_REVIEW, *, groups: bool = True
) -> list[tuple[int, float]]:
    """[(rumor_id, containment)] of the rumors whose text the OCR text carries, containment >= min_containment,
    best first (ties by rumor id). Containment is the share of the rumor's 3-grams found in the whole OCR text;
    with `groups`, runs of its lines are scored too, so that a rumor missed as a candidate of the whole text is
    still found (its containment is then the one over the line group, never more than over the whole text)."""
    if not ocr_text or not ocr_text.strip():
        return []
    texts = [ocr_text, *(line_groups(ocr_text) if groups else [])]
    best: dict[int, float] = {}
    for scored in score_prepared(index, prepare(texts), min_score=min_containment):
        for s in scored:
            if s.containment >= min_containment and s.containment > best.get(s.rumor_id, -1.0):
                best[s.rumor_id] = s.containment
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


__all__ = [
    "GROUP_LINES",
    "GROUP_STEP",
    "HASH_AUTO",
    "HASH_REVIEW",
    "MIN_QUALITY",
    "OCR_AUTO",
    "OCR_REVIEW",
    "hash_hits",
    "hash_trusted",
    "line_groups",
    "ocr_hits",
    "stock_rows",
]
