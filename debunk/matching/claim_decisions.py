"""The claim tier's part in a match decision (issue 13): rewordings, and precise containment.

- A text the near-duplicate stage did not decide confidently is searched in the claim index (`CLAIMS`, char n-gram
  TF-IDF over the live rumors' claims and variants, debunk.matching.claims); each verdict label's
  `claim_review_threshold` sends a candidate to the suspected-match queue, its `claim_auto_threshold` (when set:
  only where the measured precision on held-back data is at least 0.98) takes the label's action.
- Precise containment: a near-duplicate decision that only containment made (the similarity alone is under the
  label's threshold for it) stands only when the IDF-weighted containment of the rumor's text in the post reaches
  CLAIM_WEIGHTED_CONTAINMENT_MIN; otherwise it is decided on similarity alone. A short rumor or official boilerplate
  ("新冠肺炎确诊病例") contained in unrelated news then no longer decides.

CLAIM_MATCHING off: none of this runs (the index is not even loaded).
"""

from collections.abc import Iterable

from django.conf import settings

from debunk.matching.decisions import Decision
from debunk.matching.matcher import Scored
from debunk.stock.models import Rumor

CANDIDATES = 5  # claim candidates per text: the suspected queue's suggestions are ranked among these
WIDE = 50  # candidates searched when a containment check needs a rumor the first search did not rank


def enabled() -> bool:
    return bool(settings.CLAIM_MATCHING)


def _level(similarity: float, containment: float, rumor: Rumor) -> int:
    """2: the label's action, 1: suspected, 0: nothing (the near-duplicate thresholds, as `decide` has them)."""
    verdict = rumor.verdict
    if similarity >= verdict.match_auto_threshold or containment >= settings.MATCH_CONTAINMENT_AUTO:
        return 2
    if similarity >= verdict.match_review_threshold or containment >= settings.MATCH_CONTAINMENT_REVIEW:
        return 1
    return 0


def lifted_by_containment(s: Scored, rumor: Rumor) -> bool:
    """Whether containment alone makes this near-duplicate decision (or makes it stronger than similarity would)."""
    return _level(s.similarity, s.containment, rumor) > _level(s.similarity, 0.0, rumor)


def contained_rumors(scored: list[Scored], rumors: dict[int, Rumor]) -> set[int]:
    """The rumors whose near-duplicate decision containment alone makes (see lifted_by_containment)."""
    return {s.rumor_id for s in scored if s.rumor_id in rumors and lifted_by_containment(s, rumors[s.rumor_id])}


def needs_search(scored: list[Scored], rumors: dict[int, Rumor], allowed: set[int]) -> bool:
    """Whether a text goes to the claim index: no decision of the near-duplicate stage is confident on similarity
    alone, or one rests on containment alone (to be checked against the weighted containment)."""
    confident = False
    for s in scored:
        rumor = rumors.get(s.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        if lifted_by_containment(s, rumor):
            return True
        confident = confident or _level(s.similarity, 0.0, rumor) == 2
    return not confident


def imprecise(scored: list[Scored], rumors: dict[int, Rumor], weighted: dict[int, float]) -> set[int]:
    """The rumors whose near-duplicate decision rests on containment alone while the IDF-weighted containment of
    their text in the post (`weighted`, per rumor) is under CLAIM_WEIGHTED_CONTAINMENT_MIN: decided on similarity
    alone (the answer still reports the plain containment)."""
    floor = settings.CLAIM_WEIGHTED_CONTAINMENT_MIN
    return {
        s.rumor_id
        for s in scored
        if (rumor := rumors.get(s.rumor_id)) is not None
        and lifted_by_containment(s, rumor)
        and weighted.get(s.rumor_id, 0.0) < floor
    }


def decide_claims(hits: Iterable, rumors: dict[int, Rumor], allowed: set[int], *, via: str = "text") -> list[Decision]:
    """Each claim candidate (ClaimHit, best first) against its verdict label's claim thresholds; allow-listed rumors
    dropped. The rank is the candidate's place among the text's claim candidates."""
    decisions = []
    for rank, hit in enumerate(hits, 1):
        rumor = rumors.get(hit.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        verdict = rumor.verdict
        auto = verdict.claim_auto_threshold
        score = round(float(hit.score), 4)  # the thresholds apply to the score as the answer reports it
        scored = Scored(hit.rumor_id, 0, score, round(float(hit.containment), 4))
        if auto is not None and score >= auto:
            action, suspected = verdict.default_action, False
        elif score >= verdict.claim_review_threshold:
            action, suspected = "review", True
        else:
            continue
        decisions.append(
            Decision(rumor, scored, action, suspected, via=via, stage="claim", terms=tuple(hit.terms), rank=rank)
        )
    return decisions


SLACK = 1e-4  # under the lowest threshold: a hit at a threshold (scores are compared unrounded) is still found


def score_floor(verdicts: Iterable) -> float:
    """The lowest claim score any verdict label acts on (its review or automatic threshold): hits under it decide
    nothing, so the search skips them (most of its work on an unrelated post's weak hits)."""
    thresholds = [t for v in verdicts for t in (v.claim_review_threshold, v.claim_auto_threshold) if t is not None]
    return max(min(thresholds, default=0.0) - SLACK, 0.0)


def containment_floor() -> float:
    """The lowest claim score a rumor whose weighted containment reaches CLAIM_WEIGHTED_CONTAINMENT_MIN can have
    (score ≥ (1 − SCORE_WEIGHT) × containment): the containment check's search skips the hits under it."""
    from debunk.matching.claims import SCORE_WEIGHT

    return max((1.0 - SCORE_WEIGHT) * settings.CLAIM_WEIGHTED_CONTAINMENT_MIN - SLACK, 0.0)


def search(texts: list[str], *, k: int = CANDIDATES, min_score: float = 0.0) -> list[list]:
    """The claim candidates (ClaimHit, best first) scoring above min_score of each text in this process's claim
    index."""
    from debunk.matching.claim_serving import CLAIMS

    if not texts:
        return []
    return CLAIMS.current().search(texts, k=k, min_score=min_score)
