"""Matching a platform's post against the live rumor stock, and the decision that follows.

Changes nothing but the suspected-match queue (posts between a label's review and auto thresholds).
"""

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from debunk.matching.fingerprint import exact_hash
from debunk.matching.matcher import Scored, evidence, score_batch
from debunk.matching.normalize import normalize
from debunk.matching.serving import current_index
from debunk.models import AllowListEntry, Debunk, Match, Platform, Post, Rumor

ACTION_RANK = {"allow": 0, "review": 1, "label": 2, "block": 3}


@dataclass
class Decision:
    rumor: Rumor
    scored: Scored
    action: str
    suspected: bool


@dataclass(frozen=True)
class MatchRequest:
    text: str
    context: str = "publish"
    platform_post_id: str = ""


def decide(scored: list[Scored], rumors: dict[int, Rumor], allowed: set[int]) -> list[Decision]:
    """Apply each rumor's verdict thresholds; drop rumors allow-listed for this text."""
    decisions = []
    for s in scored:
        rumor = rumors.get(s.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        verdict = rumor.verdict
        if s.similarity >= verdict.match_auto_threshold or s.containment >= settings.MATCH_CONTAINMENT_AUTO:
            decisions.append(Decision(rumor, s, verdict.default_action, suspected=False))
        elif s.similarity >= verdict.match_review_threshold or s.containment >= settings.MATCH_CONTAINMENT_REVIEW:
            decisions.append(Decision(rumor, s, "review", suspected=True))
    return decisions


def match_text(
    *, text: str, platform: Platform | None = None, context: str = "publish", platform_post_id: str = ""
) -> dict[str, Any]:
    """The match API's answer for one post."""
    return match_many([MatchRequest(text, context, platform_post_id)], platform=platform)[0]


def match_many(requests: list[MatchRequest], *, platform: Platform | None = None) -> list[dict[str, Any]]:
    """Answers for many posts: one pass through the index and a few queries for the whole batch."""
    started = time.perf_counter()
    index = current_index()
    floor = min(settings.MATCH_CONTAINMENT_REVIEW, 0.3)
    scored = score_batch(index, [r.text for r in requests], min_score=floor)
    rumor_ids = {s.rumor_id for found in scored for s in found}
    cards = _rumor_cards(rumor_ids, index.version)
    rumors = {rid: card[0] for rid, card in cards.items()}
    debunks = {rid: card[1] for rid, card in cards.items() if card[1] is not None}
    normalized = {i: normalize(requests[i].text) for i, found in enumerate(scored) if found}
    hashes = {i: exact_hash(n.text) for i, n in normalized.items()}
    allowed = (
        set(
            AllowListEntry.objects.filter(rumor_id__in=rumor_ids, exact_hash__in=set(hashes.values())).values_list(
                "rumor_id", "exact_hash"
            )
        )
        if hashes
        else set()
    )
    results = []
    for i, request in enumerate(requests):
        allowed_here = {rid for rid, h in allowed if h == hashes.get(i)}
        decisions = decide(scored[i], rumors, allowed_here)
        action = max((d.action for d in decisions), key=ACTION_RANK.__getitem__, default="allow")
        suspected = [d for d in decisions if d.suspected]
        if suspected and platform is not None:
            queue_suspected(
                platform=platform, text=request.text, platform_post_id=request.platform_post_id, decisions=suspected
            )
        result: dict[str, Any] = {
            "matched": bool(decisions),
            "action": action,
            "matches": [_match_payload(d, normalized[i], debunks.get(d.rumor.pk)) for d in decisions],
            "index_version": index.version,
        }
        if request.context == "compose" and decisions:
            top = decisions[0]
            result["warning"] = {
                "text": f"您的内容可能涉及已核实的{top.rumor.verdict.text_zh}，请核实后再发布。",
                "rumor_id": top.rumor.pk,
            }
        results.append(result)
    took = round((time.perf_counter() - started) * 1000, 3)
    for result in results:
        result["took_ms"] = took
    return results


_CARD_SECONDS = 5.0  # verdict labels can change without a new index version: keep cards this long at most
_cards: dict[int, tuple[Rumor, Debunk | None]] = {}
_cards_key: tuple[int, float] = (-1, 0.0)


def _rumor_cards(rumor_ids: set[int], version: int) -> dict[int, tuple[Rumor, Debunk | None]]:
    """Each rumor with its verdict and newest debunk, cached per process for the index version (and a few
    seconds), so a match costs no database query for rumors already seen."""
    global _cards_key
    now = time.monotonic()
    if _cards_key[0] != version or now - _cards_key[1] > _CARD_SECONDS:
        _cards.clear()
        _cards_key = (version, now)
    missing = rumor_ids - _cards.keys()
    if missing:
        rumors = Rumor.objects.select_related("verdict").in_bulk(missing)
        debunks = _latest_debunks(set(rumors))
        for rumor_id, rumor in rumors.items():
            _cards[rumor_id] = (rumor, debunks.get(rumor_id))
    return {rid: _cards[rid] for rid in rumor_ids if rid in _cards}


def _latest_debunks(rumor_ids: set[int]) -> dict[int, Debunk]:
    latest: dict[int, Debunk] = {}
    if rumor_ids:
        for debunk in Debunk.objects.filter(rumor_id__in=rumor_ids, published_at__isnull=False).order_by(
            "rumor_id", "-published_at", "-pk"
        ):
            latest.setdefault(debunk.rumor_id, debunk)
    return latest


def _match_payload(decision: Decision, normalized: Any, debunk: Debunk | None) -> dict[str, Any]:
    rumor, scored = decision.rumor, decision.scored
    return {
        "rumor_id": rumor.pk,
        "similarity": scored.similarity,
        "containment": scored.containment,
        "decision": "suspected" if decision.suspected else "matched",
        "verdict": {"code": rumor.verdict.code, "text": rumor.verdict.text},
        "label_text": f"{rumor.verdict.text_zh}：{debunk.title}" if debunk else rumor.verdict.text_zh,
        "debunk": {"title": debunk.title, "summary": debunk.summary, "url": reverse("rumor-detail", args=[rumor.pk])}
        if debunk
        else None,
        "evidence": [{"post_span": list(p), "rumor_span": list(r)} for p, r in evidence(normalized, rumor.claim)],
    }


@transaction.atomic
def queue_suspected(*, platform: Platform, text: str, platform_post_id: str, decisions: list[Decision]) -> Post:
    """Put a post that fell between thresholds in the fact-checkers' queue (idempotent per post id)."""
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL; matching ignored it anyway
    if platform_post_id:
        post, _ = Post.objects.get_or_create(
            platform=platform, platform_post_id=platform_post_id, defaults={"text": text}
        )
    else:
        post = Post.objects.create(platform=platform, text=text)
    for d in decisions:
        Match.objects.get_or_create(
            post=post,
            rumor=d.rumor,
            defaults={
                "similarity": d.scored.similarity,
                "containment": d.scored.containment,
                "status": Match.Status.SUSPECTED,
            },
        )
    return post


def reset_caches() -> None:
    """Forget the process's index and rumor cards (tests; after restoring a database)."""
    global _cards_key
    from debunk.matching import serving

    serving.reset()
    _cards.clear()
    _cards_key = (-1, 0.0)


def decisions_many(texts: list[str]) -> list[list[Decision]]:
    """The decisions for many texts against the live stock, with no side effect (the post archive's path)."""
    index = current_index()
    scored = score_batch(index, texts, min_score=min(settings.MATCH_CONTAINMENT_REVIEW, 0.3))
    rumor_ids = {s.rumor_id for found in scored for s in found}
    rumors = {rid: card[0] for rid, card in _rumor_cards(rumor_ids, index.version).items()}
    hashes = {i: exact_hash(normalize(texts[i]).text) for i, found in enumerate(scored) if found}
    allowed = (
        set(
            AllowListEntry.objects.filter(rumor_id__in=rumor_ids, exact_hash__in=set(hashes.values())).values_list(
                "rumor_id", "exact_hash"
            )
        )
        if hashes
        else set()
    )
    return [decide(found, rumors, {rid for rid, h in allowed if h == hashes.get(i)}) for i, found in enumerate(scored)]
