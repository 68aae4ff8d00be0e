"""The post archive: posts platforms report for tracking, fingerprinted and matched on arrival, linked to
what they repost, and joined with exposures reported before them. Corrections and tracing read it.

An image post keeps its picture (`Post.image`, with its SHA-256, PDQ hash and quality). It is matched by its hash on
arrival; if no rumor image matches it confidently, its text is read (OCR) afterwards by `post_image_read_task`,
queued through the transactional outbox, which keeps the text (`Post.ocr_text`) and records what it matches as
arrival matching does. The decisions are the match API's (`debunk.matching.services.decide_requests`).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from debunk.api.models import Platform
from debunk.core.outbox import enqueue
from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Exposure
from debunk.images.decode import ImageRejected
from debunk.images.services import QueryImage, query_image, query_limits, read_text
from debunk.matching.fingerprints import fingerprint_fields
from debunk.matching.models import Fingerprint, Match, Post
from debunk.matching.services import Decision, MatchRequest, decide_requests

logger = logging.getLogger("debunk.corrections")

IMAGE_FIELDS = ["image", "image_sha256", "image_pdq", "image_quality"]


@dataclass(frozen=True)
class PostReport:
    platform_post_id: str
    text: str
    author_ref: str = ""
    posted_at: datetime | None = None
    parent_post_id: str = ""
    image: QueryImage | None = None  # checked and hashed by the API (debunk.images.api.ImageField)


@dataclass
class PostOutcome:
    platform_post_id: str
    created: bool
    matches: list[dict]  # {"rumor_id", "status"} of the matches the post has


def posts_ingest(*, platform: Platform, reports: list[PostReport]) -> list[PostOutcome]:
    """Archive a batch of a platform's posts. Idempotent: a post id already archived is left as it is (and a post
    the match API queued keeps the first image it was given).

    One transaction: posts, fingerprints, matches (auto or suspected), parent links and exposure joins are
    all written or none (the image files written are removed if it fails); fan-out of corrections for newly
    matched posts, and the reading of images without a confident hash match, are scheduled after commit.
    """
    from debunk.corrections.services import fanout_schedule
    from debunk.corrections.tasks import post_image_read_task

    by_id: dict[str, PostReport] = {}
    for report in reports:
        by_id.setdefault(report.platform_post_id, report)  # a repeated id in one batch counts once
    saved: list[str] = []  # image files written by this call
    try:
        with transaction.atomic():
            existing = {
                p.platform_post_id: p
                for p in Post.objects.select_for_update().filter(platform=platform, platform_post_id__in=list(by_id))
            }
            fresh = [r for pid, r in by_id.items() if pid not in existing or not existing[pid].archived]
            read_before = {pid: p.ocr_text for pid, p in existing.items() if p.image and p.ocr_text}
            posts = _archive(platform, fresh, existing, saved)
            decided = decide_requests(
                [_request(p, by_id[p.platform_post_id].image, read_before.get(p.platform_post_id)) for p in posts]
            )
            auto = matches_record([(p.pk, d) for p, found in zip(posts, decided.decisions, strict=True) for d in found])
            _link(platform, posts)
            for rumor_id, post_ids in auto.items():
                fanout_schedule(rumor_id=rumor_id, post_ids=post_ids)
            for k in sorted(decided.later):
                enqueue(post_image_read_task, posts[k].pk)
    except Exception:
        for name in saved:
            default_storage.delete(name)
        raise
    created = {p.platform_post_id for p in posts}
    all_posts = {p.platform_post_id: p.pk for p in posts} | {pid: p.pk for pid, p in existing.items()}
    rows = Match.objects.filter(post_id__in=list(all_posts.values())).values_list("post_id", "rumor_id", "status")
    by_post: dict[int, list[dict]] = defaultdict(list)
    for post_id, rumor_id, status in rows:
        by_post[post_id].append({"rumor_id": rumor_id, "status": status})
    return [
        PostOutcome(r.platform_post_id, r.platform_post_id in created, by_post.get(all_posts[r.platform_post_id], []))
        for r in reports
    ]


def _request(post: Post, reported: QueryImage | None, read: str | None) -> MatchRequest:
    """What a post is matched with: its text and the image it keeps (the reported one, or the one the match API
    stored first, with the text already read in it). An image without a confident hash match is read later."""
    image = reported
    if post.image and (reported is None or reported.print.sha256 != post.image_sha256):
        image = _stored_image(post)
        read = read if image is not None else None
    elif image is None or post.image_sha256 != image.print.sha256:
        read = None
    return MatchRequest(post.text, "publish", post.platform_post_id, image=image, ocr="later", ocr_text=read)


def _stored_image(post: Post) -> QueryImage | None:
    """The picture a post keeps, checked and hashed again; None (logged) if the stored file cannot be read."""
    try:
        with post.image.open("rb") as stored:
            data = stored.read(query_limits().max_bytes + 1)
        return query_image(data)
    except (OSError, ValueError) as exc:  # ImageRejected is a ValueError; a missing file an OSError
        code = exc.code if isinstance(exc, ImageRejected) else type(exc).__name__
        logger.warning("post %s: stored image %s cannot be read: %s: %s", post.pk, post.image.name, code, exc)
        return None


def _archive(platform: Platform, reports: list[PostReport], existing: dict[str, Post], saved: list[str]) -> list[Post]:
    """Create the posts (or complete those the match API queued before they were reported) with fingerprints and
    images (`saved` collects the names of the files written)."""
    posts = []
    for r in reports:
        fields = {
            "text": r.text.replace("\x00", ""),
            "author_hash": pseudonym(platform, r.author_ref) if r.author_ref else "",
            "posted_at": r.posted_at,
            "parent_platform_post_id": r.parent_post_id,
            "archived": True,
        }
        post = existing.get(r.platform_post_id)
        if post is None:
            post = Post(platform=platform, platform_post_id=r.platform_post_id, **fields)
            if r.image is not None:
                _keep_image(post, r.image, saved)
            posts.append(post)
        else:
            for name, value in fields.items():
                setattr(post, name, value)
            update = list(fields)
            if r.image is not None and not post.image:  # the first image given for a post id is kept
                _keep_image(post, r.image, saved)
                update += IMAGE_FIELDS
            post.save(update_fields=update)
    created = Post.objects.bulk_create([p for p in posts if p.pk is None])
    done = created + [existing[r.platform_post_id] for r in reports if r.platform_post_id in existing]
    Fingerprint.objects.filter(post__in=[p for p in done if p.pk]).delete()
    Fingerprint.objects.bulk_create(
        [
            Fingerprint(source=Fingerprint.Source.POST, post=p, **fingerprint_fields(p.text))
            for p in done
            if p.text.strip()  # an image posted without a text has none to match again
        ]
    )
    return done


def _keep_image(post: Post, image: QueryImage, saved: list[str]) -> None:
    name = f"{image.print.sha256[:16]}.{image.print.format.lower()}"
    post.image.save(name, ContentFile(image.data), save=False)
    saved.append(post.image.name)
    post.image_sha256 = image.print.sha256
    post.image_pdq, post.image_quality = image.print.pdq.bits, image.print.quality


def matches_record(pairs: list[tuple[int, Decision]]) -> dict[int, list[int]]:
    """Store the matches of (post id, decision) pairs, one per post and rumor: a new one is added, a suspected one
    nobody has decided yet is raised to auto by a confident decision (found since: by the text read in its image, or
    by a rumor text or image added), any other is left as it is. Returns {rumor id: [post ids newly matched
    automatically]}, for the fan-out. Inside the caller's transaction (or its own)."""
    newly: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        with transaction.atomic():
            known = {
                (post_id, rumor_id): (status, decided_by)
                for post_id, rumor_id, status, decided_by in Match.objects.filter(
                    post_id__in={p for p, _ in chunk}, rumor_id__in={d.rumor.pk for _, d in chunk}
                ).values_list("post_id", "rumor_id", "status", "decided_by")
            }
            fresh, raised = [], []
            for post_id, d in chunk:
                status = Match.Status.SUSPECTED if d.suspected else Match.Status.AUTO
                current = known.get((post_id, d.rumor.pk))
                if current is None:
                    fresh.append(_match_row(post_id, d, status))
                    known[(post_id, d.rumor.pk)] = (status, None)
                elif current == (Match.Status.SUSPECTED, None) and status == Match.Status.AUTO:
                    raised.append((post_id, d))
                    known[(post_id, d.rumor.pk)] = (status, None)
            Match.objects.bulk_create(fresh, ignore_conflicts=True)  # a concurrent writer's row wins
            for m in fresh:
                if m.status == Match.Status.AUTO:
                    newly[m.rumor_id].append(m.post_id)
            for post_id, d in raised:
                row = _match_row(post_id, d, Match.Status.AUTO)
                if Match.objects.filter(
                    post_id=post_id, rumor=d.rumor, status=Match.Status.SUSPECTED, decided_by__isnull=True
                ).update(
                    status=row.status,
                    similarity=row.similarity,
                    containment=row.containment,
                    via=row.via,
                    distance=row.distance,
                    stage=row.stage,
                    rank=row.rank,
                    evidence=row.evidence,
                ):
                    newly[d.rumor.pk].append(post_id)
    return dict(newly)


def _match_row(post_id: int, d: Decision, status: str) -> Match:
    return Match(
        post_id=post_id,
        rumor=d.rumor,
        similarity=d.scored.similarity,
        containment=d.scored.containment,
        status=status,
        via=d.via,
        distance=d.distance,
        stage=d.stage,
        rank=d.rank,
        evidence=list(d.terms),
    )


def _link(platform: Platform, posts: list[Post]) -> None:
    """Parent links both ways (a repost may arrive before or after its parent), and exposures reported
    before their post."""
    ids = {p.platform_post_id: p for p in posts}
    parent_ids = {p.parent_platform_post_id for p in posts if p.parent_platform_post_id}
    known = Post.objects.filter(platform=platform, platform_post_id__in=list(parent_ids))
    parents = dict(known.values_list("platform_post_id", "pk"))
    children: dict[int, list[int]] = defaultdict(list)  # parent pk → the pks of the posts that repost it
    for post in posts:
        parent = parents.get(post.parent_platform_post_id)
        if parent and parent != post.pk:
            children[parent].append(post.pk)
    for child_pk, parent_ref in Post.objects.filter(
        platform=platform, parent_platform_post_id__in=list(ids), parent__isnull=True
    ).values_list("pk", "parent_platform_post_id"):
        children[ids[parent_ref].pk].append(child_pk)
    for parent, kids in children.items():  # one UPDATE per parent: a cascade's reposts share a few parents
        Post.objects.filter(pk__in=kids).update(parent_id=parent)
    waiting = (
        Exposure.objects.filter(platform=platform, platform_post_id__in=list(ids), post__isnull=True)
        .values_list("platform_post_id", flat=True)
        .distinct()
    )
    for ref in list(waiting):
        Exposure.objects.filter(platform=platform, platform_post_id=ref, post__isnull=True).update(post=ids[ref])


def post_image_read(*, post_id: int) -> str:
    """Read (OCR) the picture of an archived image post, keep the text and record what the post then matches, with
    the match API's decisions (its image hash again, and the text read by containment), as arrival matching records
    them; corrections fan out after commit. Idempotent: a text already read is matched again without reading, and a
    match already stored is kept. A stored picture that cannot be read is logged and skipped."""
    from debunk.corrections.services import fanout_schedule

    post = Post.objects.filter(pk=post_id, archived=True).exclude(image="").first()
    if post is None:
        return "skipped"
    if not settings.IMAGE_OCR:
        return "off"
    try:
        with post.image.open("rb") as stored:
            data = stored.read(query_limits().max_bytes + 1)
        image = query_image(data)
        text = post.ocr_text or read_text(data).text.replace("\x00", "")
    except (OSError, ValueError) as exc:  # ImageRejected is a ValueError; a missing file an OSError
        code = exc.code if isinstance(exc, ImageRejected) else type(exc).__name__
        logger.warning("post %s: image %s not read: %s: %s", post.pk, post.image.name, code, exc)
        return "unreadable"
    request = MatchRequest(post.text, "publish", post.platform_post_id, image=image, ocr="off", ocr_text=text)
    [decisions] = decide_requests([request]).decisions
    with transaction.atomic():
        Post.objects.filter(pk=post.pk).exclude(ocr_text=text).update(ocr_text=text)
        auto = matches_record([(post.pk, d) for d in decisions])
        for rumor_id, post_ids in auto.items():
            fanout_schedule(rumor_id=rumor_id, post_ids=post_ids)
    return "matched" if auto else "read"
