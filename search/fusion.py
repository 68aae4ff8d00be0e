"""Reciprocal-rank fusion of rankings (pure): how the semantic extra's vector ranking joins the lexical one.

Each ranking gives a rumor 1 / (K + rank); a rumor's fused score is the sum over the rankings it appears in, so a
rumor found by both ranks above one found by either alone at the same place. RRF uses ranks only, never the
scores, which are on different scales (BM25 sums, cosines). K = 60 is the value of Cormack, Clarke and Büttcher
(SIGIR 2009), used unchanged (it was not tuned on the evaluation data).
"""

from __future__ import annotations

from collections.abc import Sequence

K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: int = K) -> list[tuple[int, float]]:
    """[(id, fused score)], best first; ties keep the order of first appearance (the first ranking wins)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        seen: set[int] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
