"""Tracing a rumor through the post archive: who posted it first (per platform and overall), how it spread,
who amplified it. Each run is a new, immutable Trace whose evidence bundle is canonical JSON with its SHA-256.

The posts are those matched to the rumor (automatically or confirmed) that are in the archive, with their
reposts and the posts they repost, followed through the parent links. The analysis itself is
debunk.tracing.origins.trace_cascade, the code `eval_tracing` measures.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.matching.fingerprint import jaccard
from debunk.matching.fingerprints import decode
from debunk.matching.models import MATCHED_STATUSES, Fingerprint, Match, Post
from debunk.stock.models import Rumor
from debunk.tracing.forest import CONTAINMENT, MIN_SHINGLES, PostRecord
from debunk.tracing.models import FirstPoster, Trace
from debunk.tracing.origins import EARLIEST_KNOWN, Origin, TraceResult, trace_cascade

FORMAT = "debunk-trace/1"
MAX_POSTS = 50_000  # followed through parent links; a larger cascade is traced from its first MAX_POSTS posts
CHUNK = 500  # ids per query (SQLite's limit on query parameters)
MAX_ORIGIN_ROWS = 20  # FirstPoster rows for independent origins (all of them are in the evidence)


def clock_skew_seconds() -> int:
    return int(getattr(settings, "TRACING_CLOCK_SKEW_SECONDS", 300))


def canonical_json(data: Any) -> bytes:
    """The bytes the SHA-256 is taken of: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def evidence_digest(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def trace_post_ids(*, rumor: Rumor) -> set[int]:
    """The archived posts matched to the rumor, closed over repost links (both ways), at most MAX_POSTS."""
    seen = set(
        Match.objects.filter(rumor=rumor, status__in=MATCHED_STATUSES, post__archived=True).values_list(
            "post_id", flat=True
        )
    )
    frontier = set(seen)
    while frontier and len(seen) < MAX_POSTS:
        found: set[int] = set()
        for ids in _chunks(frontier):
            found.update(Post.objects.filter(parent_id__in=ids, archived=True).values_list("pk", flat=True))
            found.update(Post.objects.filter(pk__in=ids, parent__archived=True).values_list("parent_id", flat=True))
            found.update(_siblings_of_orphans(ids))
        frontier = found - seen
        seen |= frontier
    return set(sorted(seen)[:MAX_POSTS])


def _siblings_of_orphans(ids: list[int]) -> set[int]:
    """Other reposts of the same absent post (a deleted source): they carry what it carried."""
    absent = Post.objects.filter(pk__in=ids, parent__isnull=True).exclude(parent_platform_post_id="")
    refs = set(absent.values_list("platform_id", "parent_platform_post_id"))
    if not refs:
        return set()
    query = Q()
    for platform_id, ref in refs:
        query |= Q(platform_id=platform_id, parent_platform_post_id=ref)
    return set(Post.objects.filter(query, archived=True, parent__isnull=True).values_list("pk", flat=True))


def trace_records(*, rumor: Rumor, post_ids: set[int]) -> tuple[list[PostRecord], dict[int, dict]]:
    """PostRecords for the algorithms, and what the evidence lists of each post."""
    rumor_sets = [decode(s) for s in Fingerprint.objects.filter(rumor=rumor).values_list("shingles", flat=True)]
    similarity: dict[int, float] = {}
    shingles: dict[int, bytes] = {}
    rows: list[tuple] = []
    for ids in _chunks(post_ids):
        matches = Match.objects.filter(rumor=rumor, post_id__in=ids)
        similarity.update(matches.values_list("post_id", "similarity"))
        own = Fingerprint.objects.filter(source=Fingerprint.Source.POST, post_id__in=ids)
        shingles.update(own.values_list("post_id", "shingles"))
        rows += Post.objects.filter(pk__in=ids).values_list(
            "pk",
            "platform__code",
            "platform_post_id",
            "author_hash",
            "posted_at",
            "created_at",
            "parent_id",
            "parent_platform_post_id",
        )
    records, listed = [], {}
    for pk, platform, post_id, author, posted_at, created_at, parent_id, parent_ref in rows:
        at = posted_at or created_at
        sh = decode(shingles.get(pk))
        if pk not in similarity and sh is not None and rumor_sets:
            similarity[pk] = max(jaccard(r, sh) for r in rumor_sets if r is not None)
        if parent_id is not None:
            parent = str(parent_id) if parent_id in post_ids else f"post:{parent_id}"
        else:
            parent = f"{platform}:{parent_ref}" if parent_ref else None
        records.append(
            PostRecord(
                key=str(pk),
                platform=platform,
                time=at.timestamp(),
                parent=parent,
                author=author,
                shingles=frozenset(sh.tolist()) if sh is not None else frozenset(),
                similarity=round(float(similarity.get(pk, 0.0)), 4),
                post_id=post_id,
            )
        )
        listed[pk] = {"posted_at_known": posted_at is not None}
    return records, listed


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _origin(result: TraceResult, origin: Origin, root_index: int) -> dict:
    r = result.forest.records[origin.key]
    return {
        "root_index": root_index,
        "post": int(origin.key),
        "platform": origin.platform,
        "platform_post_id": r.post_id,
        "author_hash": r.author,
        "posted_at": _iso(r.time),
        "earliest_at": _iso(origin.time),
        "similarity": r.similarity,
        "kind": origin.kind,
        "posts": origin.size,
        "members": [int(k) for k in origin.members],
        "missing_parent": origin.missing_parent,
        "within_skew_of": [int(k) for k in origin.within_skew_of],
    }


def evidence_bundle(*, rumor: Rumor, result: TraceResult, listed: dict[int, dict], at: datetime, by: Any) -> dict:
    """Everything a first-poster finding rests on, as plain JSON (ids, times, similarities, links)."""
    forest = result.forest
    posts = []
    for key in sorted(forest.records, key=int):
        r = forest.records[key]
        posts.append(
            {
                "id": int(key),
                "platform": r.platform,
                "platform_post_id": r.post_id,
                "author_hash": r.author,
                "posted_at": _iso(r.time),
                "posted_at_known": listed[int(key)]["posted_at_known"],
                "parent": int(forest.parent[key]) if forest.parent[key] is not None else None,
                "link": forest.how[key],
                "missing_parent": forest.missing.get(key),
                "similarity": r.similarity,
                "subtree": forest.size[key],
            }
        )
    return {
        "format": FORMAT,
        "rumor": {"id": rumor.pk, "claim": rumor.claim},
        "traced_at": at.astimezone(UTC).isoformat(),
        "traced_by": getattr(by, "pk", None),
        "method": {
            "clock_skew_seconds": result.skew_seconds,
            "containment": CONTAINMENT,
            "min_shingles": MIN_SHINGLES,
            "matches": sorted(MATCHED_STATUSES),
        },
        "origins": [_origin(result, o, i) for i, o in enumerate(result.origins)],
        "first_by_platform": {p: _origin(result, o, 0) for p, o in result.by_platform.items()},
        "amplifiers": [a.__dict__ for a in result.amplifiers],
        "posts": posts,
    }


def trace_summary(result: TraceResult) -> dict:
    forest = result.forest
    return {
        "growth": [[_iso(t), n] for t, n in result.growth],
        "bucket_seconds": result.bucket_seconds,
        "amplifiers": [a.__dict__ for a in result.amplifiers],
        "links": result.notes,
        "origins": len(result.origins),
        "largest_origin": result.origins[0].size if result.origins else 0,
        "platforms": sorted({r.platform for r in forest.records.values()}),
        "within_skew_of": list(result.origins[0].within_skew_of) if result.origins else [],
    }


def trace_rumor(*, rumor: Rumor, by: Any) -> Trace:
    """Trace a rumor now: a new Trace with its first posters, amplifiers and evidence (never updated later)."""
    if by is not None and not by.has_perm("debunk.review_rumor"):
        raise PermissionDenied
    skew = clock_skew_seconds()
    post_ids = trace_post_ids(rumor=rumor)
    records, listed = trace_records(rumor=rumor, post_ids=post_ids)
    result = trace_cascade(records, skew_seconds=skew)
    now = timezone.now()
    evidence = evidence_bundle(rumor=rumor, result=result, listed=listed, at=now, by=by)
    digest = evidence_digest(evidence)
    platforms = dict(Platform.objects.filter(code__in=result.by_platform.keys()).values_list("code", "pk"))
    with transaction.atomic():
        trace = Trace(
            rumor=rumor,
            created_at=now,
            created_by=by if getattr(by, "pk", None) else None,
            posts=len(records),
            roots=len(result.origins),
            clock_skew_seconds=skew,
            summary=trace_summary(result),
            evidence=evidence,
            evidence_sha256=digest,
        )
        trace.full_clean()
        trace.save()
        rows = [
            _first_poster(trace, result, o, i, None, platforms) for i, o in enumerate(result.origins[:MAX_ORIGIN_ROWS])
        ]
        rows += [_first_poster(trace, result, o, 0, platforms[p], platforms) for p, o in result.by_platform.items()]
        FirstPoster.objects.bulk_create(rows)
        audit_record(
            actor=by,
            action="trace",
            target=trace,
            changes={"rumor": [None, rumor.pk], "posts": [None, len(records)], "evidence_sha256": [None, digest]},
        )
    return trace


def _first_poster(
    trace: Trace, result: TraceResult, origin: Origin, index: int, scope: int | None, platforms: dict[str, int]
) -> FirstPoster:
    r = result.forest.records[origin.key]
    return FirstPoster(
        trace=trace,
        scope_platform_id=scope,
        post_id=int(origin.key),
        platform_id=platforms[origin.platform],
        platform_post_id=r.post_id,
        author_hash=r.author,
        posted_at=datetime.fromtimestamp(r.time, UTC),
        similarity=r.similarity,
        kind=FirstPoster.Kind.EARLIEST_KNOWN if origin.kind == EARLIEST_KNOWN else FirstPoster.Kind.SOURCE,
        root_index=index,
        subtree_size=origin.size,
    )


def trace_export(trace: Trace) -> tuple[bytes, str]:
    """The evidence bundle's canonical bytes and their SHA-256 (which must equal the stored one)."""
    data = canonical_json(trace.evidence)
    return data, hashlib.sha256(data).hexdigest()


def trace_drawings(trace: Trace) -> dict[str, str]:
    """The growth chart and the folded tree of a stored trace, from its evidence (nothing is recomputed)."""
    from django.utils.dateparse import parse_datetime

    from debunk.tracing.drawing import growth_svg, tree_svg
    from debunk.tracing.forest import build_forest

    def local(t: float) -> str:
        return timezone.localtime(datetime.fromtimestamp(t, UTC)).strftime("%Y-%m-%d %H:%M")

    evidence = trace.evidence
    records = []
    for p in evidence.get("posts", []):
        parent = p["parent"] if p["parent"] is not None else p.get("missing_parent")
        records.append(
            PostRecord(
                key=str(p["id"]),
                platform=p["platform"],
                time=parse_datetime(p["posted_at"]).timestamp(),
                parent=str(parent) if parent is not None else None,
                author=p["author_hash"],
                post_id=p["platform_post_id"],
            )
        )
    forest = build_forest(records, skew_seconds=0)  # links as stored; no text, so nothing is inferred again
    origins = [
        Origin(
            key=str(o["post"]),
            kind=o["kind"],
            platform=o["platform"],
            time=parse_datetime(o["earliest_at"]).timestamp(),
            size=o["posts"],
            members=tuple(str(m) for m in o["members"]),
            missing_parent=o["missing_parent"],
        )
        for o in evidence.get("origins", [])
    ]
    growth = [(parse_datetime(t).timestamp(), n) for t, n in trace.summary.get("growth", [])]
    return {"growth": growth_svg(growth, fmt=local), "tree": tree_svg(forest, origins, fmt=local)}
