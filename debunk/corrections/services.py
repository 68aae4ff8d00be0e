"""Who gets a correction: users exposed to posts that carry a published rumor, ranked, capped per day,
once per user and rumor; updates when a rumor is retracted or its verdict changes.

Every write is idempotent (unique constraints + `ignore_conflicts`) and done in chunks of
CORRECTIONS_CHUNK users per transaction, so a task killed half-way and run again loses nothing and
creates nothing twice. Delivery is debunk.corrections.deliveries' job.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from itertools import islice

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from debunk.core.outbox import enqueue
from debunk.core.retention import purge_older_than
from debunk.corrections.archive import matches_record
from debunk.corrections.models import Correction, Exposure
from debunk.images.index import ImageHit, plain_scan
from debunk.images.models import ImageFingerprint
from debunk.images.pipeline import ALGORITHM as IMAGE_ALGORITHM
from debunk.matching.fingerprint import SHORT_TEXT
from debunk.matching.fingerprints import decode
from debunk.matching.index import Entry, MatchIndex
from debunk.matching.matcher import Scored, prepare, score_prepared
from debunk.matching.models import MATCHED_STATUSES, AllowListEntry, Fingerprint, Match, Post
from debunk.matching.services import (
    Decision,
    decide,
    decide_image,
    decide_ocr,
    merge_decisions,
    ocr_text_parts,
    score_floor,
)
from debunk.stock.models import Rumor

RECEIVED = [Correction.Status.DELIVERED, Correction.Status.ACKNOWLEDGED, Correction.Status.CLICKED]


def fanout_schedule(*, rumor_id: int, post_ids: list[int] | None = None) -> None:
    """Create the corrections for a rumor (only those from `post_ids` when given) once this transaction commits
    (through the outbox: a broker outage delays it, never loses it)."""
    from debunk.corrections.tasks import corrections_fanout_task

    enqueue(corrections_fanout_task, rumor_id, post_ids)


def schedule_rumor_published(*, rumor_id: int) -> None:
    """After commit: re-scan the archive with the rumor's texts, then fan out its corrections."""
    from debunk.corrections.tasks import rumor_published_task

    enqueue(rumor_published_task, rumor_id)


def schedule_rumor_changed(*, rumor_id: int, revision: int) -> None:
    """After commit: updates for those who received the rumor's correction (revision: the audit event)."""
    from debunk.corrections.tasks import rumor_changed_task

    enqueue(rumor_changed_task, rumor_id, revision)


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def corrections_fanout(*, rumor_id: int, post_ids: list[int] | None = None) -> int:
    """Create one correction per exposed user and platform for a live rumor; returns how many were created.

    Users are ranked by their strongest interaction (reposts and shares, then comments, likes, views) and
    then by recency; a user already at CORRECTIONS_DAILY_CAP today gets a deferred correction.
    """
    rumor = Rumor.objects.live().filter(pk=rumor_id).first()
    if rumor is None:
        return 0
    posts = Match.objects.filter(rumor_id=rumor_id, status__in=MATCHED_STATUSES)
    if post_ids is not None:
        posts = posts.filter(post_id__in=post_ids)
    exposed = (
        Exposure.objects.filter(post_id__in=posts.values("post_id"))
        .values("platform_id", "user_hash")
        .annotate(tier=Min("interaction"), last=Max("at"))
        .order_by("tier", "-last")
    )
    created = 0
    chunk: list[dict] = []
    for row in exposed.iterator(chunk_size=settings.CORRECTIONS_CHUNK):
        chunk.append(row)
        if len(chunk) >= settings.CORRECTIONS_CHUNK:
            created += _create_chunk(rumor_id, chunk)
            chunk = []
    if chunk:
        created += _create_chunk(rumor_id, chunk)
    return created


def _create_chunk(rumor_id: int, rows: list[dict]) -> int:
    now = timezone.now()
    today = _day_start(now)
    with transaction.atomic():
        hashes = [r["user_hash"] for r in rows]
        already = set(
            Correction.objects.filter(
                rumor_id=rumor_id, kind=Correction.Kind.CORRECTION, user_hash__in=hashes
            ).values_list("platform_id", "user_hash")
        )
        counts = {
            (p, u): n
            for p, u, n in Correction.objects.filter(user_hash__in=hashes, created_at__gte=today)
            .exclude(status__in=[Correction.Status.DEFERRED, Correction.Status.CANCELLED])
            .values_list("platform_id", "user_hash")
            .annotate(n=Count("pk"))
        }
        fresh = []
        for r in rows:
            key = (r["platform_id"], r["user_hash"])
            if key in already:
                continue
            capped = counts.get(key, 0) >= settings.CORRECTIONS_DAILY_CAP
            fresh.append(
                Correction(
                    platform_id=r["platform_id"],
                    rumor_id=rumor_id,
                    user_hash=r["user_hash"],
                    interaction=r["tier"],
                    exposed_at=r["last"],
                    status=Correction.Status.DEFERRED if capped else Correction.Status.PENDING,
                    not_before=today + timedelta(days=1) if capped else None,
                    created_at=now,
                )
            )
        made = Correction.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(made)


def corrections_rumor_changed(*, rumor_id: int, revision: int) -> int:
    """After a retraction or a verdict change (revision: the audit event's id): an update for everyone who
    received the correction; corrections not yet sent of a rumor no longer live are cancelled."""
    rumor = Rumor.objects.filter(pk=rumor_id).first()
    if rumor is None:
        return 0
    if rumor.status != Rumor.Status.PUBLISHED:
        Correction.objects.filter(
            rumor_id=rumor_id, status__in=[Correction.Status.PENDING, Correction.Status.DEFERRED]
        ).update(status=Correction.Status.CANCELLED)
    received = (
        Correction.objects.filter(rumor_id=rumor_id, kind=Correction.Kind.CORRECTION, status__in=RECEIVED)
        .values_list("platform_id", "user_hash", "interaction", "exposed_at")
        .order_by("pk")
    )
    now = timezone.now()
    created = 0
    rows = list(received)
    for start in range(0, len(rows), settings.CORRECTIONS_CHUNK):
        updates = [
            Correction(
                platform_id=p,
                rumor_id=rumor_id,
                user_hash=u,
                kind=Correction.Kind.UPDATE,
                revision=revision,
                interaction=i,
                exposed_at=at,
                created_at=now,
            )
            for p, u, i, at in rows[start : start + settings.CORRECTIONS_CHUNK]
        ]
        with transaction.atomic():
            created += len(Correction.objects.bulk_create(updates, ignore_conflicts=True))
    return created


def corrections_release_deferred(*, now: datetime | None = None) -> int:
    """Deferred corrections whose day has come go back to pending (still within the daily cap)."""
    now = now or timezone.now()
    released = 0
    due = Correction.objects.filter(status=Correction.Status.DEFERRED, not_before__lte=now).order_by(
        "interaction", "-exposed_at"
    )
    today = _day_start(now)
    for correction in due.iterator(chunk_size=1000):
        sent_today = (
            Correction.objects.filter(
                platform_id=correction.platform_id, user_hash=correction.user_hash, created_at__gte=today
            )
            .exclude(status__in=[Correction.Status.DEFERRED, Correction.Status.CANCELLED])
            .count()
        )
        if sent_today >= settings.CORRECTIONS_DAILY_CAP:
            Correction.objects.filter(pk=correction.pk).update(not_before=today + timedelta(days=1))
            continue
        released += Correction.objects.filter(pk=correction.pk, status=Correction.Status.DEFERRED).update(
            status=Correction.Status.PENDING, created_at=now, not_before=None
        )
    return released


def archive_rescan(*, rumor_id: int, days: int | None = None) -> list[int]:
    """Match a newly published (or edited) rumor, or one given a new image, against the archive of recent posts;
    returns the ids of posts newly matched automatically. Three ways, each with the match API's rules, merged per post
    as a match answer merges them:

    - texts: exact n-gram Jaccard and containment on the posts' stored shingle sets (a vectorised scan: no post
      index is needed at archive scale);
    - images: the posts' PDQ hashes against the rumor's images (their 8 dihedral variants), by a vectorised Hamming
      scan (`debunk.images.index.plain_scan`) per rumor hash over chunks of posts;
    - texts read in images (`Post.ocr_text`): scored by the text matcher against an index of this rumor's texts.
    """
    rumor = Rumor.objects.live().select_related("verdict").filter(pk=rumor_id).first()
    if rumor is None:
        return []
    since = timezone.now() - timedelta(days=days if days is not None else settings.CORRECTIONS_RESCAN_DAYS)
    window = Q(posted_at__gte=since) | Q(posted_at__isnull=True, created_at__gte=since)
    own = Fingerprint.objects.filter(rumor=rumor)
    rumor_sets = [(decode(sh), n) for sh, n in own.values_list("shingles", "normalized_length")]
    rumor_exact = set(Fingerprint.objects.filter(rumor=rumor).values_list("exact_hash", flat=True))
    allowed = set(AllowListEntry.objects.filter(rumor=rumor).values_list("exact_hash", flat=True))
    posts = Fingerprint.objects.filter(source=Fingerprint.Source.POST, post__archived=True).filter(
        Q(post__posted_at__gte=since) | Q(post__posted_at__isnull=True, post__created_at__gte=since)
    )
    found: dict[int, list[Decision]] = defaultdict(list)
    batch: list[tuple[int, bytes, str]] = []
    for row in posts.values_list("post_id", "shingles", "exact_hash").iterator(chunk_size=5000):
        batch.append(row)
        if len(batch) >= RESCAN_CHUNK:
            _rescan_batch(rumor, rumor_sets, rumor_exact, allowed, batch, found)
            batch = []
    if batch:
        _rescan_batch(rumor, rumor_sets, rumor_exact, allowed, batch, found)
    archived = Post.objects.filter(window, archived=True)
    _rescan_images(rumor, archived, allowed, found)
    _rescan_texts_read(rumor, archived, allowed, found)
    pairs = [(post_id, d) for post_id, decisions in found.items() for d in merge_decisions(decisions)]
    from debunk.warning.post_notices import posts_matched_notify  # warning builds on corrections

    with transaction.atomic():  # the matches and the platforms' posts.matched notices commit together
        newly = matches_record(pairs).get(rumor.pk, [])
        posts_matched_notify(rumor=rumor, post_ids=newly)
    return newly


RESCAN_CHUNK = 20_000  # posts a step of the re-scan


def _rescan_batch(
    rumor: Rumor,
    rumor_sets: list[tuple[np.ndarray, int]],
    rumor_exact: set[str],
    allowed: set[str],
    rows: list,
    found: dict[int, list[Decision]],
) -> None:
    post_ids = np.array([r[0] for r in rows], dtype=np.int64)
    sets = [np.frombuffer(bytes(r[1]), dtype="<u4") for r in rows]
    sizes = np.array([s.size for s in sets], dtype=np.int64)
    flat = np.concatenate(sets) if sets else np.empty(0, np.uint32)
    owner = np.repeat(np.arange(len(rows)), sizes)
    best_sim = np.zeros(len(rows))
    best_cont = np.zeros(len(rows))
    for shingles, length in rumor_sets:
        if length < SHORT_TEXT or not shingles.size:
            continue  # a short rumor text matches by exact text only (below)
        inter = np.bincount(owner[np.isin(flat, shingles)], minlength=len(rows)).astype(float)
        sim = inter / np.maximum(sizes + shingles.size - inter, 1)
        best_sim = np.maximum(best_sim, sim)
        best_cont = np.maximum(best_cont, inter / shingles.size)
    exact = np.array([r[2] in rumor_exact for r in rows])
    best_sim[exact] = best_cont[exact] = 1.0
    allow_listed = np.array([r[2] in allowed for r in rows], dtype=bool)  # these texts never match this rumor
    best_sim[allow_listed] = best_cont[allow_listed] = 0.0
    floor = min(settings.MATCH_CONTAINMENT_REVIEW, rumor.verdict.match_review_threshold)
    hits = np.flatnonzero((best_sim >= floor) | (best_cont >= floor))
    for i in hits.tolist():
        scored = Scored(rumor.pk, 0, round(float(best_sim[i]), 4), round(float(best_cont[i]), 4))
        found[int(post_ids[i])] += decide([scored], {rumor.pk: rumor}, set())


def _rescan_images(rumor: Rumor, archived: QuerySet[Post], allowed: set[str], found: dict[int, list[Decision]]) -> None:
    """The archived image posts within IMAGE_HASH_REVIEW_DISTANCE of one of the rumor's images (hashes trusted on
    both sides only: quality at least IMAGE_HASH_MIN_QUALITY, as the image index and a query have them)."""
    prints = ImageFingerprint.objects.filter(
        rumor=rumor, algorithm=IMAGE_ALGORITHM, quality__gte=settings.IMAGE_HASH_MIN_QUALITY
    ).values_list("pk", "dihedral")
    queries = [(pk, words) for pk, dihedral in prints for words in _hashes(dihedral)]
    if not queries:
        return
    limit = settings.IMAGE_HASH_REVIEW_DISTANCE
    posts = archived.filter(image_pdq__isnull=False, image_quality__gte=settings.IMAGE_HASH_MIN_QUALITY)
    rows = posts.values_list("pk", "image_pdq", "image_sha256").iterator(chunk_size=5000)
    while chunk := list(islice(rows, RESCAN_CHUNK)):
        hashes = _hashes(b"".join(bytes(r[1]) for r in chunk))
        nearest = np.full(len(chunk), limit + 1, dtype=np.int64)
        image_of = np.zeros(len(chunk), dtype=np.int64)
        for image_id, words in queries:
            near, distances = plain_scan(hashes, words, limit)
            closer = distances < nearest[near]
            nearest[near[closer]], image_of[near[closer]] = distances[closer], image_id
        for i in np.flatnonzero(nearest <= limit).tolist():
            post_id, _, sha256 = chunk[i]
            if sha256 in allowed:  # a reviewer allow-listed this picture for the rumor
                continue
            hit = ImageHit(rumor.pk, int(nearest[i]), int(image_of[i]))
            found[post_id] += decide_image([hit], {rumor.pk: rumor}, set())


def _hashes(data: bytes) -> np.ndarray:
    """Stored 32-byte PDQ hashes laid end to end → an (n, 4) uint64 array (as the image index stores them)."""
    return np.frombuffer(bytes(data), dtype=">u8").astype(np.uint64).reshape(-1, 4)


def _rescan_texts_read(
    rumor: Rumor, archived: QuerySet[Post], allowed: set[str], found: dict[int, list[Decision]]
) -> None:
    """The archived image posts whose text read (OCR) carries the rumor: each text as the match API takes it (whole,
    then runs of its lines: `ocr_text_parts`, the best containment kept) scored by the text matcher against an index
    of the rumor's own texts (its claim and variants), decided by the verdict label's text-in-image thresholds."""
    entries = [
        Entry(pk, rumor.pk, decode(shingles), decode(signature), exact)
        for pk, shingles, signature, exact in Fingerprint.objects.filter(rumor=rumor).values_list(
            "pk", "shingles", "signature", "exact_hash"
        )
    ]
    if not entries:
        return
    index = MatchIndex(entries)
    rows = archived.exclude(ocr_text="").values_list("pk", "ocr_text", "image_sha256").iterator(chunk_size=2000)
    while chunk := list(islice(rows, 2000)):
        parts = [[part for part, _ in ocr_text_parts(text)] for _, text, _ in chunk]
        batch = prepare([part for own in parts for part in own])
        scored = score_prepared(index, batch, min_score=score_floor())
        start = 0
        for (post_id, _, sha256), own in zip(chunk, parts, strict=True):
            positions = range(start, start + len(own))
            start += len(own)
            if sha256 in allowed or any(batch.exact_hash(p) in allowed for p in positions):
                continue  # the picture, or a text read in it, was allow-listed for the rumor
            best = max((s for p in positions for s in scored[p]), key=lambda s: s.containment, default=None)
            if best is not None:
                found[post_id] += decide_ocr([best], {rumor.pk: rumor}, set())


def exposures_purge(*, older_than_days: int) -> int:
    """Delete exposures older than the retention period."""
    return purge_older_than(Exposure.objects.all(), field="at", days=older_than_days)
