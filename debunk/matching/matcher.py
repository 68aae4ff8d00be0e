"""From a post's text to scored rumor matches: normalise, fingerprint, gather candidates, decide exactly.

Pure functions over a MatchIndex: no database, so the same code serves the API, evaluations and
benchmarks, and can be tested against a brute-force scan.
"""

from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from debunk.matching.fingerprint import (
    SHORT_TEXT,
    containment,
    fingerprint,
    jaccard,
    permuted,
    positional_shingles,
    window_signatures,
)
from debunk.matching.index import MatchIndex
from debunk.matching.normalize import Normalized, normalize, normalize_segments

WINDOWS = (48, 96, 192)  # n-grams per window for long posts (containment of a quoted rumor)
MIN_EVIDENCE = 4  # shortest shared run, in normalised characters, reported as evidence


@dataclass
class Scored:
    """The best evidence that a post carries one rumor."""

    rumor_id: int
    fp_id: int
    similarity: float  # exact Jaccard of n-gram sets, best over the post and its repost segments
    containment: float  # |R ∩ P| / |R| over the whole post
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)  # (post, rumor), original


def score_text(index: MatchIndex, text: str, *, min_score: float = 0.3) -> list[Scored]:
    """Every rumor whose similarity or containment reaches min_score, best first (one row per rumor)."""
    whole = normalize(text)
    if not whole.text:
        return []
    # The whole post, then each part of a repost chain (only when there is one: normalising twice costs).
    segments = [s for s in normalize_segments(text) if s.text and s.text != whole.text] if "//@" in text else []
    positional = positional_shingles(whole.text)
    values = permuted(positional) if positional.size else None
    whole_fp = fingerprint(whole.text, positional, values)
    fps = [whole_fp, *(fingerprint(s.text) for s in segments)]
    exact_hits: set[int] = set()
    signatures = []
    for fp in fps:
        exact_hits |= index.exact_matches(fp.exact)
        if fp.signature is not None:
            signatures.append(fp.signature[None, :])
    if values is not None:  # windows of a longer post, for a rumor quoted inside it (containment)
        for window in WINDOWS:
            if positional.size > window * 1.2:
                signatures.append(window_signatures(positional, window, values))
    candidates = exact_hits | (index.candidates_many(np.concatenate(signatures)) if signatures else set())
    post_shingles = fps[0].shingles
    best: dict[int, Scored] = {}
    for fp_id in candidates:
        found = index.lookup(fp_id)
        if found is None:
            continue
        rumor_id, shingles, short = found
        if short:  # short rumor text: exact normalised text only, in the post or a segment
            sim = cont = 1.0 if fp_id in exact_hits else 0.0
        else:
            sim = max(jaccard(fp.shingles, shingles) for fp in fps)
            cont = containment(shingles, post_shingles)
        if max(sim, cont) < min_score:
            continue
        current = best.get(rumor_id)
        if current is None or (sim, cont) > (current.similarity, current.containment):
            best[rumor_id] = Scored(rumor_id, fp_id, round(sim, 4), round(cont, 4))
    return sorted(best.values(), key=lambda s: (max(s.similarity, s.containment), s.similarity), reverse=True)


def evidence(post: Normalized, rumor_text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Shared runs of text as (post span, rumor span) in original offsets, longest first (at most 5)."""
    rumor = normalize(rumor_text)
    matcher = SequenceMatcher(None, post.text, rumor.text, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= MIN_EVIDENCE]
    blocks.sort(key=lambda b: b.size, reverse=True)
    return [(post.span_to_original(b.a, b.a + b.size), rumor.span_to_original(b.b, b.b + b.size)) for b in blocks[:5]]


def is_short(text: str) -> bool:
    return len(normalize(text).text) < SHORT_TEXT


__all__ = ["Scored", "evidence", "is_short", "score_text"]
