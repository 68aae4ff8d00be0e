"""What a match decides about one rumor, and how several ways of finding the same rumor are merged into one.

A post can be found to carry a rumor by its text (the near-duplicate stage, then the claim tier for rewordings),
by its picture's hash, or by the text read in its picture; the match answer reports one decision per rumor.
"""

from dataclasses import dataclass

from debunk.matching.matcher import Scored
from debunk.stock.models import Rumor

ACTION_RANK = {"allow": 0, "review": 1, "label": 2, "block": 3}
VIA_RANK = {"text": 2, "image_hash": 1, "ocr": 0}  # which of two decisions on one rumor is reported, on a tie
# Which matcher found it (Match.Stage); on a tie of the above, a near-duplicate decision is reported over a claim one
STAGE_RANK = {"near_duplicate": 2, "claim": 1, "semantic": 0}


@dataclass
class Decision:
    rumor: Rumor
    scored: Scored  # the claim stage: similarity = its claim score, containment = the IDF-weighted containment
    action: str
    suspected: bool
    via: str = "text"  # Match.Via: the post's text, the image's hash, or the text read in the image
    distance: int | None = None  # image hash: bits of 256
    stage: str = "near_duplicate"  # Match.Stage
    terms: tuple[str, ...] = ()  # the claim stage's evidence: shared distinctive n-grams, most distinctive first
    rank: int | None = None  # the claim stage: the rumor's place among the text's claim candidates (1 = best)

    @property
    def score(self) -> float:
        """The figure the decision rests on (the claim score for the claim stage)."""
        return max(self.scored.similarity, self.scored.containment)


def merged(*groups: list[Decision]) -> list[Decision]:
    """One decision per rumor: a confident one over a suspected one, then by VIA_RANK, then by STAGE_RANK;
    strongest first."""
    best: dict[int, Decision] = {}
    for decision in (d for group in groups for d in group):
        current = best.get(decision.rumor.pk)
        if current is None or _strength(decision) > _strength(current):
            best[decision.rumor.pk] = decision
    return sorted(best.values(), key=lambda d: (ACTION_RANK[d.action], d.rumor.verdict.severity_rank), reverse=True)


def _strength(d: Decision) -> tuple[int, int, int, float]:
    return (not d.suspected, VIA_RANK[d.via], STAGE_RANK[d.stage], d.score)
