"""The post archive: posts platforms report for tracking, fingerprinted and matched on arrival, linked to
what they repost, and joined with exposures reported before them. Corrections and tracing read it.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from debunk.api.models import Platform
from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Exposure
from debunk.matching.fingerprints import fingerprint_fields
from debunk.matching.models import Fingerprint, Match, Post
from debunk.matching.services import decisions_many


@dataclass(frozen=True)
class PostReport:
    platform_post_id: str
    text: str
    author_ref: str = ""
    posted_at: datetime | None = None
    parent_post_id: str = ""


@dataclass
class PostOutcome:
    platform_post_id: str
    created: bool
    matches: list[dict]  # {"rumor_id", "status"} of the matches the post has


def posts_ingest(*, platform: Platform, reports: list[PostReport]) -> list[PostOutcome]:
    """Archive a batch of a platform's posts. Idempotent: a post id already archived is left as it is.

    One transaction: posts, fingerprints, matches (auto or suspected), parent links and exposure joins are
    all written or none; fan-out of corrections for newly matched posts is scheduled after commit.
    """
    from debunk.corrections.services import fanout_schedule

    by_id: dict[str, PostReport] = {}
    for report in reports:
        by_id.setdefault(report.platform_post_id, report)  # a repeated id in one batch counts once
    with transaction.atomic():
        existing = {
            p.platform_post_id: p
            for p in Post.objects.select_for_update().filter(platform=platform, platform_post_id__in=list(by_id))
        }
        fresh = [r for pid, r in by_id.items() if pid not in existing or not existing[pid].archived]
        posts = _archive(platform, fresh, existing)
        decisions = decisions_many([p.text for p in posts])
        new_matches = []
        for post, found in zip(posts, decisions, strict=True):
            for d in found:
                status = Match.Status.SUSPECTED if d.suspected else Match.Status.AUTO
                new_matches.append(
                    Match(
                        post=post,
                        rumor=d.rumor,
                        similarity=d.scored.similarity,
                        containment=d.scored.containment,
                        status=status,
                    )
                )
        Match.objects.bulk_create(new_matches, ignore_conflicts=True)
        _link(platform, posts)
        matched: dict[int, list[int]] = defaultdict(list)
        for m in new_matches:
            if m.status == Match.Status.AUTO:
                matched[m.rumor_id].append(m.post_id)
        for rumor_id, post_ids in matched.items():
            fanout_schedule(rumor_id=rumor_id, post_ids=post_ids)
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


def _archive(platform: Platform, reports: list[PostReport], existing: dict[str, Post]) -> list[Post]:
    """Create the posts (or complete those the match API queued before they were reported) with fingerprints."""
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
            posts.append(Post(platform=platform, platform_post_id=r.platform_post_id, **fields))
        else:
            for name, value in fields.items():
                setattr(post, name, value)
            post.save(update_fields=list(fields))
    created = Post.objects.bulk_create([p for p in posts if p.pk is None])
    done = created + [existing[r.platform_post_id] for r in reports if r.platform_post_id in existing]
    Fingerprint.objects.filter(post__in=[p for p in done if p.pk]).delete()
    Fingerprint.objects.bulk_create(
        [Fingerprint(source=Fingerprint.Source.POST, post=p, **fingerprint_fields(p.text)) for p in done]
    )
    return done


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
