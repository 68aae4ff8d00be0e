"""Matching a platform's post against the live rumor stock, and the decision that follows.

Changes nothing but the suspected-match queue (posts between a label's review and auto thresholds).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.translation import gettext

from debunk.api.models import Platform
from debunk.images.decision import line_groups
from debunk.images.index import ImageHit
from debunk.images.services import QueryImage, hash_hits, read_text_within
from debunk.matching import claim_decisions
from debunk.matching.decisions import ACTION_RANK, Decision
from debunk.matching.decisions import merged as _merged
from debunk.matching.index import MatchIndex
from debunk.matching.matcher import Prepared, Scored, Span, evidence_many, prepare, score_prepared
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.serving import current_index
from debunk.public.cards import public_url, rumor_card
from debunk.semantic.services import suggest_later
from debunk.stock.models import Debunk, Rumor
from debunk.stock.selectors import public_rumors
from debunk.warning.counting import count_answers
from labels.models import VerdictLabel
from search.services import search_cards


@dataclass(frozen=True)
class MatchRequest:
    text: str
    context: str = "publish"
    platform_post_id: str = ""
    image: QueryImage | None = None
    # an image without a confident hash match is read: "now" (within IMAGE_OCR_BUDGET_SECONDS, else as "later"),
    # "later" (by a match job: the answer says `pending`), or "off"
    ocr: str = "now"
    ocr_text: str | None = None  # the image's text, already read (a match job)


def decide(
    scored: list[Scored], rumors: dict[int, Rumor], allowed: set[int], imprecise: set[int] = frozenset()
) -> list[Decision]:
    """Apply each rumor's verdict thresholds; drop rumors allow-listed for this text. The rumors in `imprecise`
    are decided on similarity alone (their containment failed the claim index's weighted check:
    claim_decisions.imprecise)."""
    decisions = []
    for s in scored:
        rumor = rumors.get(s.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        verdict = rumor.verdict
        contained = 0.0 if s.rumor_id in imprecise else s.containment
        if s.similarity >= verdict.match_auto_threshold or contained >= settings.MATCH_CONTAINMENT_AUTO:
            decisions.append(Decision(rumor, s, verdict.default_action, suspected=False))
        elif s.similarity >= verdict.match_review_threshold or contained >= settings.MATCH_CONTAINMENT_REVIEW:
            decisions.append(Decision(rumor, s, "review", suspected=True))
    return decisions


def decide_ocr(scored: list[Scored], rumors: dict[int, Rumor], allowed: set[int]) -> list[Decision]:
    """The text read in an image decides by containment alone (names, times and counters around a screenshotted
    post pull its similarity down), with each verdict label's text-in-image thresholds."""
    decisions = []
    for s in scored:
        rumor = rumors.get(s.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        verdict = rumor.verdict
        if s.containment >= verdict.ocr_auto_containment:
            decisions.append(Decision(rumor, s, verdict.default_action, suspected=False, via="ocr"))
        elif s.containment >= verdict.ocr_review_containment:
            decisions.append(Decision(rumor, s, "review", suspected=True, via="ocr"))
    return decisions


def decide_image(hits: list[ImageHit], rumors: dict[int, Rumor], allowed: set[int]) -> list[Decision]:
    """Image hash hits: within IMAGE_HASH_AUTO_DISTANCE the verdict's action, up to the review distance the queue."""
    decisions = []
    for hit in hits:
        rumor = rumors.get(hit.rumor_id)
        if rumor is None or rumor.pk in allowed:
            continue
        scored = Scored(hit.rumor_id, 0, round(1 - hit.distance / 256, 4), 0.0)
        confident = hit.distance <= settings.IMAGE_HASH_AUTO_DISTANCE
        action = rumor.verdict.default_action if confident else "review"
        decisions.append(Decision(rumor, scored, action, not confident, via="image_hash", distance=hit.distance))
    return decisions


def match_text(
    *,
    text: str,
    platform: Platform | None = None,
    context: str = "publish",
    platform_post_id: str = "",
    defer: Callable[[Callable[[], object]], None] | None = None,
) -> dict[str, Any]:
    """The match API's answer for one post."""
    return match_many([MatchRequest(text, context, platform_post_id)], platform=platform, defer=defer)[0]


def match_many(
    requests: list[MatchRequest],
    *,
    platform: Platform | None = None,
    defer: Callable[[Callable[[], object]], None] | None = None,
) -> list[dict[str, Any]]:
    """Answers for many posts: one pass through the index and a few queries for the whole batch.

    The suspected-match queue is written before returning, or handed to `defer` (the match views give their
    request log's transaction, so that a request commits once)."""
    started = time.perf_counter()
    done = _decide_batch(requests, offsets=True)  # offsets kept for evidence
    index, batch, reading, cards, ocr_found = done.index, done.prepared, done.reading, done.cards, done.ocr_found
    results = []
    suspects: list[tuple[MatchRequest, list[Decision]]] = []
    decided: list[tuple[int, list[Decision]]] = []
    for i, (request, decisions) in enumerate(zip(requests, done.decisions, strict=True)):
        result: dict[str, Any] = {
            "matched": bool(decisions),
            "action": max((d.action for d in decisions), key=ACTION_RANK.__getitem__, default="allow"),
            "matches": [],  # filled below, once every match's evidence is known
            "index_version": index.version,
        }
        if request.image is not None:
            result.update(_image_facts(request, reading, i))
        if not decisions:
            results.append(result)
            continue
        suspected = [d for d in decisions if d.suspected]
        if suspected and platform is not None:
            suspects.append((_with_text_read(request, reading.texts.get(i)), suspected))
        if request.context == "compose" and (top := _leading(decisions)) and top.action != "allow":
            result["warning"] = {"text": compose_warning(top.rumor.verdict), "rumor_id": top.rumor.pk}
        decided.append((len(results), decisions))
        results.append(result)
    # every match's evidence in one compiled pass (a match by image hash has none)
    sources = {}  # (request, rumor) -> (batch position, offset of that text in the request's OCR text)
    for i, ds in decided:
        for d in ds:
            if not _with_spans(d):
                continue
            if d.via == "ocr":
                sources[i, d.rumor.pk] = ocr_found[i][2][d.rumor.pk]
            else:
                sources[i, d.rumor.pk] = (i, 0)
    pairs = [(sources[i, d.rumor.pk][0], d.rumor.claim) for i, ds in decided for d in ds if _with_spans(d)]
    spans = iter(evidence_many(batch, pairs))
    verdict_texts: dict[int, str] = {}  # each verdict's text in the active language, looked up once a request
    for position, decisions in decided:
        results[position]["matches"] = [
            _match_payload(d, cards[d.rumor.pk], _spans(d, spans, sources.get((position, d.rumor.pk))), verdict_texts)
            for d in decisions
        ]
    _context_cards(requests, results, dict(decided))
    if suspects:
        write = partial(queue_suspected_many, platform=platform, items=suspects)
        if defer is None:
            write()
        else:
            defer(write)
    took = round((time.perf_counter() - started) * 1000, 3)
    for result in results:
        result["took_ms"] = took
    # counted once the answers are built (a flush, when due, runs here: after the match, before the response)
    count_answers(platform_id=platform.pk if platform else None, requests=requests, decisions=done.decisions)
    return results


@dataclass
class _Decided:
    """A batch's decisions with what the match answer builds on them."""

    index: MatchIndex
    prepared: Prepared  # the posts' texts, then the parts of the texts read in images
    reading: "_Reading"
    cards: dict[int, "_Card"]
    ocr_found: dict[int, tuple[list[Scored], set[int], dict[int, tuple[int, int]]]]  # per request: _best_of_parts
    decisions: list[list[Decision]]  # per request


def _decide_batch(requests: list[MatchRequest], *, offsets: bool) -> _Decided:
    """The decisions for a batch, with no side effect: the one place the rules for texts, image hashes and the
    texts read in images are applied and merged (the match API, the post archive and its reading share it)."""
    reading = _read_images(requests)
    # normalised once, the posts' texts then the texts read in images (each whole, then runs of its lines: see
    # images.decision.line_groups)
    ocr_parts = _ocr_parts(reading, first=len(requests))
    texts = [r.text for r in requests] + [text for parts in ocr_parts.values() for _, text, _ in parts]
    index, batch, scored, cards, allowed = _score(texts, offsets=offsets)
    image_allowed: dict[int, set[int]] = {}
    if reading.hits:
        cards.update(_rumor_cards({h.rumor_id for hits in reading.hits.values() for h in hits}, index.version))
        image_allowed = _image_allow_listed(requests, cards)
    rumors = {rid: card.rumor for rid, card in cards.items()}
    ocr_found = {i: _best_of_parts(parts, scored, allowed) for i, parts in ocr_parts.items()}
    claims = _claim_tier(requests, texts, batch, scored, cards, allowed, ocr_parts, index.version)
    rumors = {rid: card.rumor for rid, card in cards.items()}  # with the claim candidates' rumors
    all_decisions = []
    for i, request in enumerate(requests):
        decisions = decide(scored[i], rumors, allowed[i], claims.imprecise.get(i, set())) if scored[i] else []
        if i in claims.hits and not any(not d.suspected for d in decisions):
            decisions = _merged(decisions, claim_decisions.decide_claims(claims.hits[i], rumors, claims.allowed[i]))
        if request.image is not None:
            own = image_allowed.get(i, set())
            found, ocr_allowed, _ = ocr_found.get(i, ([], set(), {}))
            decisions = _merged(
                decisions,
                decide_image(reading.hits.get(i, []), rumors, own),
                decide_ocr(found, rumors, own | ocr_allowed),
            )
            read = ocr_parts[i][0][0] if i in ocr_parts else None
            if read in claims.hits and not any(not d.suspected for d in decisions):
                decide_read = claim_decisions.decide_claims(
                    claims.hits[read], rumors, own | claims.allowed[read], via="ocr"
                )
                decisions = _merged(decisions, decide_read)
        all_decisions.append(decisions)
    return _Decided(index, batch, reading, cards, ocr_found, all_decisions)


@dataclass
class _Claims:
    """The claim tier's part of a batch (claim_decisions), by batch position: the candidates of the texts it
    searched, the rumors allow-listed for those texts, and per request the rumors whose near-duplicate decision
    failed the precise containment check."""

    hits: dict[int, list] = field(default_factory=dict)
    allowed: dict[int, set[int]] = field(default_factory=dict)
    imprecise: dict[int, set[int]] = field(default_factory=dict)


def _claim_tier(
    requests: list[MatchRequest],
    texts: list[str],
    batch: Prepared,
    scored: list[list[Scored]],
    cards: dict[int, "_Card"],
    allowed: list[set[int]],
    ocr_parts: dict[int, list[tuple[int, str, int]]],
    version: int,
) -> _Claims:
    """Search the claim index for the posts' texts that the near-duplicate stage did not decide confidently on
    similarity (or decided on containment alone), and for the whole texts read in images; `cards` gains the
    candidates' rumors."""
    found = _Claims()
    if not claim_decisions.enabled():
        return found
    rumors = {rid: card.rumor for rid, card in cards.items()}
    positions = [
        i
        for i, request in enumerate(requests)
        if request.text.strip() and claim_decisions.needs_search(scored[i], rumors, allowed[i])
    ]
    positions += [parts[0][0] for parts in ocr_parts.values() if parts and parts[0][1].strip()]
    if not positions:
        return found
    floor = claim_decisions.score_floor(_verdict_labels(version).values())
    found.hits = dict(
        zip(positions, claim_decisions.search([texts[p] for p in positions], min_score=floor), strict=True)
    )
    # precise containment: the weighted containment of each rumor a near-duplicate decision rests on containment
    # for; a rumor the first search did not rank is looked for among more candidates
    checks = {i: claim_decisions.contained_rumors(scored[i], rumors) for i in positions if i < len(requests)}
    wider = [i for i, ids in checks.items() if ids - {h.rumor_id for h in found.hits[i]}]
    wide = dict(
        zip(
            wider,
            claim_decisions.search(
                [texts[i] for i in wider], k=claim_decisions.WIDE, min_score=claim_decisions.containment_floor()
            ),
            strict=True,
        )
    )
    for i, ids in checks.items():
        if ids:
            weighted = {h.rumor_id: h.containment for h in wide.get(i, found.hits[i])}
            found.imprecise[i] = claim_decisions.imprecise(scored[i], rumors, weighted)
    rumor_ids = {h.rumor_id for hits in found.hits.values() for h in hits}
    cards.update(_rumor_cards(rumor_ids - cards.keys(), version))
    hashes = {p: batch.exact_hash(p) for p, hits in found.hits.items() if hits}
    entries = _allow_listed(rumor_ids, set(hashes.values())) if hashes else set()
    for p in found.hits:
        found.allowed[p] = {rumor_id for rumor_id, digest in entries if digest == hashes.get(p)}
    return found


def ocr_text_parts(text: str) -> list[tuple[str, int]]:
    """A text read in an image as the matcher takes it: (text, offset in it) of the whole text, then of runs of its
    lines. A rumor inside a screenshot full of other text can share too little with the whole text's MinHash to
    become a candidate; a run of the lines around it does (`bench_images` measures both ways)."""
    return [(text, 0)] + [(group, max(text.find(group), 0)) for group in line_groups(text)]


def _ocr_parts(reading: "_Reading", *, first: int) -> dict[int, list[tuple[int, str, int]]]:
    """Per request with a text read: (batch position, text, offset in the OCR text) of its `ocr_text_parts`."""
    parts: dict[int, list[tuple[int, str, int]]] = {}
    position = first
    for i in reading.order:
        own = ocr_text_parts(reading.texts[i])
        parts[i] = [(position + k, part, offset) for k, (part, offset) in enumerate(own)]
        position += len(own)
    return parts


def _best_of_parts(
    parts: list[tuple[int, str, int]], scored: list[list[Scored]], allowed: list[set[int]]
) -> tuple[list[Scored], set[int], dict[int, tuple[int, int]]]:
    """One request's OCR scores: per rumor the part with the highest containment, the rumors allow-listed for any
    part, and where each rumor's best part is (batch position, offset in the OCR text)."""
    best: dict[int, Scored] = {}
    where: dict[int, tuple[int, int]] = {}
    for position, _, offset in parts:
        for s in scored[position]:
            if s.rumor_id not in best or s.containment > best[s.rumor_id].containment:
                best[s.rumor_id], where[s.rumor_id] = s, (position, offset)
    found = sorted(best.values(), key=lambda s: (-s.containment, s.rumor_id))
    return found, set().union(*(allowed[p] for p, _, _ in parts)), where


def _with_spans(decision: Decision) -> bool:
    """Whether a decision's evidence is runs of shared text (a near-duplicate of the text or of the text read in
    the image); an image hash has none, the claim stage has its shared terms instead."""
    return decision.via != "image_hash" and decision.stage == "near_duplicate"


def _spans(decision: Decision, spans: Any, source: tuple[int, int] | None) -> list[Span]:
    """The next evidence spans for a decision (none for an image hash), shifted into the OCR text for a part."""
    if not _with_spans(decision):
        return []
    found = next(spans)
    offset = source[1] if source else 0
    if not offset:
        return found
    return [((p[0] + offset, p[1] + offset), r) for p, r in found]


@dataclass
class _Reading:
    """What the images of a batch gave: hash hits, texts read (OCR) and the requests whose reading was deferred."""

    hits: dict[int, list[ImageHit]]
    texts: dict[int, str]
    order: list[int]  # requests with a text read, in request order
    later: set[int]
    ocr_ms: dict[int, float]


def _read_images(requests: list[MatchRequest]) -> _Reading:
    """Hash every image; read (OCR) those without a confident hash match, as each request asks."""
    reading = _Reading({}, {}, [], set(), {})
    for i, request in enumerate(requests):
        if request.image is None:
            continue
        hits = reading.hits[i] = hash_hits(request.image)
        if any(h.distance <= settings.IMAGE_HASH_AUTO_DISTANCE for h in hits) or not settings.IMAGE_OCR:
            continue
        if request.ocr_text is not None:
            reading.texts[i] = request.ocr_text
        elif request.ocr == "now":
            started = time.perf_counter()
            read = read_text_within(request.image.data, settings.IMAGE_OCR_BUDGET_SECONDS)
            if read is None:
                reading.later.add(i)
            else:
                reading.texts[i] = read.text
                reading.ocr_ms[i] = round((time.perf_counter() - started) * 1000, 1)
        elif request.ocr == "later":
            reading.later.add(i)
    reading.order = sorted(reading.texts)
    return reading


def _image_facts(request: MatchRequest, reading: _Reading, i: int) -> dict[str, Any]:
    """What an answer says of the image it was given: its hash, the text read in it, whether reading is pending."""
    assert request.image is not None
    facts: dict[str, Any] = {
        "image": {
            "sha256": request.image.print.sha256,
            "pdq": request.image.print.pdq.hex,
            "quality": request.image.print.quality,
        },
        "pending": i in reading.later,
    }
    if i in reading.texts:
        facts["ocr_text"] = reading.texts[i]
        if i in reading.ocr_ms:
            facts["ocr_ms"] = reading.ocr_ms[i]
    return facts


def _with_text_read(request: MatchRequest, text: str | None) -> MatchRequest:
    return request if text is None or request.ocr_text is not None else replace(request, ocr_text=text)


def _image_allow_listed(requests: list[MatchRequest], cards: dict[int, "_Card"]) -> dict[int, set[int]]:
    """Per image request, the rumors its image (by SHA-256) was allow-listed for (a reviewer rejected the match)."""
    images = {i: r.image.print.sha256 for i, r in enumerate(requests) if r.image is not None}
    found = _allow_listed(set(cards), set(images.values())) if cards and images else set()
    return {i: {rumor_id for rumor_id, digest in found if digest == sha} for i, sha in images.items()}


def _leading(decisions: list[Decision], *, confirmed: bool = False) -> Decision | None:
    """The decision behind the answer's action: the strongest action, then the most severe verdict (the first
    such match on a tie); with `confirmed`, among matches at or above the auto threshold only."""
    pool = [d for d in decisions if not (confirmed and d.suspected)]
    return max(pool, key=lambda d: (ACTION_RANK[d.action], d.rumor.verdict.severity_rank), default=None)


def compose_warning(verdict: VerdictLabel) -> str:
    """What an author about to publish is told, worded for the verdict label, in the active language (the
    request's Accept-Language, or the `lang` the match API was given)."""
    wording = {
        "false": gettext("This looks like a rumor that fact-checkers have shown to be false. Please do not spread it."),
        "inaccurate": gettext(
            "Fact-checkers found a similar claim inaccurate. Please check the facts before publishing."
        ),
        "misleading": gettext(
            "Fact-checkers found a similar claim misleading. Please add context or check it before publishing."
        ),
        "partly_true": gettext(
            "Fact-checkers found a similar claim only partly true. Please check the details before publishing."
        ),
        "unverified": gettext("A similar claim has not been verified yet. Please be careful before sharing it."),
    }.get(verdict.code)
    if wording is None:  # a label added to the standard later: its own text in the sentence
        wording = gettext("Fact-checkers rated a similar claim “%(label)s”. Please check it before publishing.") % {
            "label": verdict.text
        }
    return wording


SEARCH_QUERY_MAX = 200  # as the search cards API: the start of a long text is the query


def _context_cards(requests: list[MatchRequest], results: list[dict[str, Any]], decided: dict[int, list]) -> None:
    """What the contexts `comment` and `search` add to an answer.

    - comment: `card`, the debunk card to pin at the top of the post's comments (that of the leading match at or
      above the auto threshold; null when there is none: a suspected match is not pinned before review);
    - search: `cards`, the debunk cards for the text as a search query (search.services.search_cards)."""
    pinned = {
        i: top.rumor.pk
        for i, request in enumerate(requests)
        if request.context == "comment" and (top := _leading(decided.get(i, []), confirmed=True))
    }
    rumors = public_rumors().in_bulk(set(pinned.values())) if pinned else {}
    for i, request in enumerate(requests):
        if request.context == "comment":
            rumor = rumors.get(pinned.get(i))
            results[i]["card"] = rumor_card(rumor) if rumor is not None else None
        elif request.context == "search":
            results[i]["cards"] = [
                rumor_card(hit.rumor) for hit in search_cards(request.text[:SEARCH_QUERY_MAX], semantic_ranking=False)
            ]


_CARD_SECONDS = 5.0  # verdict labels can change without a new index version: keep cards this long at most


@dataclass(frozen=True)
class _Card:
    """What a match answer says of a rumor, built once per card lifetime."""

    rumor: Rumor  # with its claim and verdict loaded (other fields load on access)
    debunk: dict[str, str] | None
    label_text: str


_cards: dict[int, _Card] = {}
_verdicts: dict[int, VerdictLabel] = {}
_cards_key: tuple[Any, ...] = (-1, 0.0)


def _rumor_cards(rumor_ids: set[int], version: int) -> dict[int, _Card]:
    """Each rumor with its verdict and newest debunk, cached per process for the index version (and a few
    seconds), so a match costs no database query for rumors already seen, and one for those not seen."""
    global _cards_key
    now = time.monotonic()
    urls = (get_script_prefix(), get_urlconf(), settings.PUBLIC_BASE_URL)
    if _cards_key[0] != version or now - _cards_key[1] > _CARD_SECONDS or _cards_key[2:] != urls:
        _cards.clear()
        _verdicts.clear()
        _cards_key = (version, now, *urls)
    missing = rumor_ids - _cards.keys()
    if missing:
        rows = _card_rows(sorted(missing))
        if any(verdict_id not in _verdicts for _, _, verdict_id, _, _ in rows):
            _verdicts.update(VerdictLabel.objects.in_bulk())
        for rumor_id, claim, verdict_id, title, summary in rows:
            rumor = Rumor.from_db(connection.alias, ["id", "claim", "verdict_id"], [rumor_id, claim, verdict_id])
            verdict = _verdicts[verdict_id]
            rumor.verdict = verdict
            _cards[rumor_id] = _Card(
                rumor,
                {"title": title, "summary": summary, "url": public_url(reverse("rumor-detail", args=[rumor_id]))}
                if title is not None
                else None,
                f"{verdict.text_zh}：{title}" if title is not None else verdict.text_zh,
            )
    return {rid: _cards[rid] for rid in rumor_ids if rid in _cards}


def _verdict_labels(version: int) -> dict[int, VerdictLabel]:
    """Every verdict label, cached with the rumor cards (the same lifetime: a threshold change is seen within
    _CARD_SECONDS)."""
    _rumor_cards(set(), version)  # renews the cache when it is stale
    if not _verdicts:
        _verdicts.update(VerdictLabel.objects.in_bulk())
    return _verdicts


def _card_rows(rumor_ids: list[int]) -> list[tuple[int, str, int, str | None, str | None]]:
    """(id, claim, verdict id, newest published debunk's title and summary) of each rumor, in one query: the
    ORM would take two and build model instances, which costs more than the match on a cold card."""
    qn = connection.ops.quote_name
    rumor, debunk = qn(Rumor._meta.db_table), qn(Debunk._meta.db_table)
    newest = (
        f"(SELECT d.{{}} FROM {debunk} d WHERE d.{qn('rumor_id')} = r.{qn('id')} AND d.{qn('published_at')} IS NOT NULL"
        f" ORDER BY d.{qn('published_at')} DESC, d.{qn('id')} DESC LIMIT 1)"
    )
    sql = (
        f"SELECT r.{qn('id')}, r.{qn('claim')}, r.{qn('verdict_id')}, {newest.format(qn('title'))},"
        f" {newest.format(qn('summary'))} FROM {rumor} r WHERE r.{qn('id')} IN ({', '.join(['%s'] * len(rumor_ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, rumor_ids)
        return cursor.fetchall()


def _allow_listed(rumor_ids: set[int], hashes: set[str]) -> set[tuple[int, str]]:
    """(rumor id, exact hash) of the allow-list entries among these rumors and texts: one plain query (read on
    every match that found something, so that a rejection takes effect at once)."""
    qn = connection.ops.quote_name
    ids, digests = sorted(rumor_ids), sorted(hashes)
    sql = (
        f"SELECT {qn('rumor_id')}, {qn('exact_hash')} FROM {qn(AllowListEntry._meta.db_table)}"
        f" WHERE {qn('rumor_id')} IN ({', '.join(['%s'] * len(ids))})"
        f" AND {qn('exact_hash')} IN ({', '.join(['%s'] * len(digests))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *digests])
        return set(cursor.fetchall())


def _match_payload(decision: Decision, card: _Card, spans: list[Span], verdict_texts: dict[int, str]) -> dict[str, Any]:
    scored = decision.scored
    verdict = card.rumor.verdict
    text = verdict_texts.get(verdict.pk)
    if text is None:
        text = verdict_texts[verdict.pk] = verdict.text
    payload = {
        "rumor_id": card.rumor.pk,
        "via": decision.via,
        "stage": decision.stage,
        "similarity": scored.similarity,
        "containment": scored.containment,
        "decision": "suspected" if decision.suspected else "matched",
        "verdict": {"code": verdict.code, "text": text},
        "label_text": card.label_text,
        "debunk": dict(card.debunk) if card.debunk else None,
        "evidence": [{"post_span": list(p), "rumor_span": list(r)} for p, r in spans],
    }
    if decision.distance is not None:
        payload["distance"] = decision.distance
    if decision.stage == "claim":
        payload["score"] = scored.similarity
        payload["terms"] = list(decision.terms)
    return payload


def queue_suspected(*, platform: Platform, text: str, platform_post_id: str, decisions: list[Decision]) -> Post:
    """Put a post that fell between thresholds in the fact-checkers' queue (idempotent per post id)."""
    [post_id] = queue_suspected_many(
        platform=platform, items=[(MatchRequest(text, "publish", platform_post_id), decisions)]
    )
    return Post.objects.get(pk=post_id)


@transaction.atomic(savepoint=False)  # inside a caller's transaction (the request log's): a failure fails it all
def queue_suspected_many(*, platform: Platform, items: list[tuple[MatchRequest, list[Decision]]]) -> list[int]:
    """queue_suspected for many posts in one transaction and a few statements: the posts (one per platform post
    id, the first text kept), then their matches (an existing match of a post and rumor is left as it is).

    Plain multi-row INSERTs: the ORM's bulk_create compiles every value of every row, which cost a batch of
    posts more than matching them. Returns the post ids."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    post_ids: list[int] = [0] * len(items)
    with_ids: dict[str, str] = {}
    fresh: list[int] = []
    texts: list[str] = []
    for k, (request, _) in enumerate(items):
        text = request.text.replace("\x00", "")  # PostgreSQL text cannot hold NUL; matching ignored it anyway
        texts.append(text)
        if request.platform_post_id:
            with_ids.setdefault(request.platform_post_id, text)
        else:
            fresh.append(k)
    # every NOT NULL column without a database default is named (the archive's fields stay empty: a post the
    # match API queued is not archived until the platform reports it through POST /posts)
    post_fields = [
        "platform",
        "platform_post_id",
        "text",
        "created_at",
        "author_hash",
        "parent_platform_post_id",
        "archived",
        "image",
        "image_sha256",
        "ocr_text",
    ]
    empty = ("", "", False, "", "", "")
    if fresh and connection.features.can_return_rows_from_bulk_insert:
        rows = [(platform.pk, "", texts[k], now, *empty) for k in fresh]
        for k, pk in zip(fresh, _insert(Post, post_fields, rows), strict=True):
            post_ids[k] = pk
    elif fresh:  # a backend without INSERT … RETURNING
        for k in fresh:
            post_ids[k] = Post.objects.create(platform=platform, text=texts[k]).pk
    if with_ids:
        rows = [(platform.pk, pid, text, now, *empty) for pid, text in with_ids.items()]
        _insert(Post, post_fields, rows, ignore_conflicts=True)
        by_id = dict(
            Post.objects.filter(platform=platform, platform_post_id__in=list(with_ids)).values_list(
                "platform_post_id", "pk"
            )
        )
        for k, (request, _) in enumerate(items):
            if request.platform_post_id:
                post_ids[k] = by_id[request.platform_post_id]
    for k, (request, _) in enumerate(items):
        if request.image is not None:
            _keep_post_image(post_ids[k], request)
    evidence = Match._meta.get_field("evidence")
    rows = [
        (
            post_id,
            d.rumor.pk,
            d.scored.similarity,
            d.scored.containment,
            Match.Status.SUSPECTED.value,
            now,
            d.via,
            d.distance,
            d.stage,
            d.rank,
            evidence.get_db_prep_value(list(d.terms), connection),
        )
        for post_id, (_, decisions) in zip(post_ids, items, strict=True)
        for d in decisions
    ]
    fields = [
        *("post", "rumor", "similarity", "containment", "status", "created_at", "via", "distance"),
        *("stage", "rank", "evidence"),
    ]
    _insert(Match, fields, rows, ignore_conflicts=True)  # idempotent per post and rumor, as get_or_create was
    suggest_later(post_ids)  # the semantic extra (when on): more candidates for the reviewers, by a task after commit
    return post_ids


def _keep_post_image(post_id: int, request: MatchRequest) -> None:
    """The picture of a queued image post, for its reviewers (the first one given for a post id is kept)."""
    assert request.image is not None
    post = Post.objects.get(pk=post_id)
    if post.image:
        return
    image = request.image
    post.image.save(f"{image.print.sha256[:16]}.{image.print.format.lower()}", ContentFile(image.data), save=False)
    post.image_sha256 = image.print.sha256
    post.image_pdq, post.image_quality = image.print.pdq.bits, image.print.quality
    post.ocr_text = (request.ocr_text or "").replace("\x00", "")
    post.save(update_fields=["image", "image_sha256", "image_pdq", "image_quality", "ocr_text"])


_INSERT_CHUNK = 200  # rows a statement: SQLite allows 32,766 parameters


def _insert(model: Any, names: list[str], rows: list[tuple], *, ignore_conflicts: bool = False) -> list[int]:
    """INSERT the rows (values in the order of the named fields, already adapted); the new primary keys in row
    order unless conflicts are ignored (ON CONFLICT DO NOTHING, as bulk_create(ignore_conflicts=True))."""
    ops, qn = connection.ops, connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    returning = "" if ignore_conflicts else f" RETURNING {qn(model._meta.pk.column)}"
    columns = ", ".join(qn(f.column) for f in fields)
    head = f"{ops.insert_statement(on_conflict=on_conflict)} {qn(model._meta.db_table)} ({columns}) VALUES "
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    keys: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            cursor.execute(
                head + ", ".join([row_sql] * len(chunk)) + (f" {suffix}" if suffix else "") + returning,
                [value for row in chunk for value in row],
            )
            if returning:
                keys += [row[0] for row in cursor.fetchall()]
    return keys


def reset_caches() -> None:
    """Forget the process's index and rumor cards (tests; after restoring a database)."""
    global _cards_key
    from debunk.matching import serving

    serving.reset()
    _cards.clear()
    _verdicts.clear()
    _cards_key = (-1, 0.0)


def decisions_many(items: list[str] | list[MatchRequest]) -> list[list[Decision]]:
    """The decisions for many texts (or requests, images included) against the live stock, with no side effect."""
    return decide_requests([MatchRequest(i) if isinstance(i, str) else i for i in items]).decisions


@dataclass
class Decided:
    decisions: list[list[Decision]]  # per request, as a match answer would have them
    later: set[int]  # the requests whose image is still to be read (their `ocr` was "later")
    texts_read: dict[int, str]  # the texts read in images (or given as `ocr_text`) that were matched


def decide_requests(requests: list[MatchRequest]) -> Decided:
    """The match API's decisions for a batch (texts, image hashes, texts read in images, allow-lists), with no side
    effect: no answer is built and nothing is queued (the post archive records its own matches)."""
    done = _decide_batch(requests, offsets=False)
    return Decided(done.decisions, done.reading.later, done.reading.texts)


def merge_decisions(*groups: list[Decision]) -> list[Decision]:
    """One decision per rumor out of several ways of finding it, as a match answer merges them."""
    return _merged(*groups)


def score_floor() -> float:
    """The lowest similarity or containment the matcher reports: below every threshold a decision uses."""
    return min(settings.MATCH_CONTAINMENT_REVIEW, 0.3)


def _score(
    texts: list[str], *, offsets: bool
) -> tuple[MatchIndex, Prepared, list[list[Scored]], dict[int, _Card], list[set[int]]]:
    """Score a batch against the live index, with what deciding needs: the cards of the rumors found and, per
    text, the rumors its exact text is allow-listed for."""
    index = current_index()
    batch = prepare(texts, offsets=offsets)
    scored = score_prepared(index, batch, min_score=score_floor())
    rumor_ids = {s.rumor_id for found in scored for s in found}
    cards = _rumor_cards(rumor_ids, index.version)
    hashes = {i: batch.exact_hash(i) for i, found in enumerate(scored) if found}
    entries = _allow_listed(rumor_ids, set(hashes.values())) if hashes else set()
    allowed: list[set[int]] = [set() for _ in texts]
    for rumor_id, digest in entries:
        for i, own in hashes.items():
            if own == digest:
                allowed[i].add(rumor_id)
    return index, batch, scored, cards, allowed
