"""Telling platforms which of their posts now match a rumor, or no longer do (`PostMatchNotice`).

- `posts.matched`: after an archive re-scan (a rumor published, its text changed, a variant or an image added:
  `debunk.corrections.services.archive_rescan`), one notice per platform and rumor with the platform's post ids
  newly matched automatically (at most POST_MATCH_NOTICE_CHUNK ids a notice: more make several). A rumor that comes
  back after a retraction or expiry (its latest notice to a platform was `posts.unmatched`) is announced again with
  every post of the platform it matches.
- `posts.unmatched`: when a published rumor is retracted or expires (`debunk.stock.rumors._transition`), the posts
  matched to it (automatically or confirmed by a reviewer), per platform, so that the platform can lift its labels.

The rows are written in the caller's transaction (the re-scan's matches, the rumor's transition) and each one's
first attempt is queued through the transactional outbox (`debunk.core.outbox.enqueue`): a broker outage delays
the webhook, never loses it, and the beat (`deliver_post_match_notices`) sends what is due. The same items are in the
pull feed GET /api/v1/posts/matches (debunk/warning/api.py).
"""

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils import timezone

from debunk.matching.models import MATCHED_STATUSES, Match, Post
from debunk.stock.models import Rumor
from debunk.warning.models import PostMatchNotice
from debunk.webhooks.services import OPEN, OutboxKind, outbox_attempt

logger = logging.getLogger(__name__)

Event = PostMatchNotice.Event
EVENTS = list(Event.values)


def rumor_facts(rumor: Rumor) -> dict[str, Any]:
    """What a notice says of its rumor: the action its verdict asks for, the label, the newest published debunk."""
    verdict = rumor.verdict
    debunk = rumor.debunks.filter(published_at__isnull=False).order_by("-published_at", "-pk").first()
    return {
        "rumor_id": rumor.pk,
        "rumor_status": rumor.status,
        "action": verdict.default_action,
        "label": {"code": verdict.code, "text_zh": verdict.text_zh, "text_en": verdict.text_en},
        "debunk": {"title": debunk.title, "url": _rumor_url(rumor.pk)} if debunk is not None else None,
    }


def _rumor_url(rumor_id: int) -> str:
    from debunk.public.cards import public_url

    return public_url(reverse("rumor-detail", args=[rumor_id]))


def feed_item(notice: PostMatchNotice) -> dict[str, Any]:
    """A notice as the pull feed lists it and as the webhook's `data` carries it."""
    return {
        "id": notice.pk,
        "event": notice.event,
        "created_at": notice.created_at.isoformat(),
        **notice.payload,
    }


def _notices(
    rumor: Rumor, event: str, rows: Iterable[tuple[int, str]], *, at: datetime | None = None
) -> list[PostMatchNotice]:
    """Write the notices of (platform id, platform post id) rows, one per platform (several when it has more than
    POST_MATCH_NOTICE_CHUNK posts), each post id once, in order; queue each one's first attempt after commit."""
    from debunk.core.outbox import enqueue
    from debunk.warning.tasks import post_match_notice_send_task

    by_platform: dict[int, list[str]] = defaultdict(list)
    seen: set[tuple[int, str]] = set()
    for platform_id, ref in rows:
        if (platform_id, ref) not in seen:
            seen.add((platform_id, ref))
            by_platform[platform_id].append(ref)
    if not by_platform:
        return []
    at = at or timezone.now()
    facts = rumor_facts(rumor)
    stamp = "matched_at" if event == Event.MATCHED else "unmatched_at"
    chunk = max(1, settings.POST_MATCH_NOTICE_CHUNK)
    notices = [
        PostMatchNotice(
            platform_id=platform_id,
            rumor=rumor,
            event=event,
            message_id=f"msg_{uuid.uuid4().hex}",
            created_at=at,
            payload={**facts, "platform_post_ids": refs[start : start + chunk], stamp: at.isoformat()},
        )
        for platform_id, refs in sorted(by_platform.items())
        for start in range(0, len(refs), chunk)
    ]
    made = PostMatchNotice.objects.bulk_create(notices)
    for notice in made:
        enqueue(post_match_notice_send_task, notice.pk)
    logger.info(
        "%s rumor=%s: %d notice(s), %d platform(s), %d post(s)", event, rumor.pk, len(made), len(by_platform), len(seen)
    )
    return made


def _matched_posts(rumor_id: int) -> QuerySet[Match]:
    return Match.objects.filter(rumor_id=rumor_id, status__in=MATCHED_STATUSES)


def _withdrawn_platforms(rumor_id: int) -> set[int]:
    """The platforms whose latest notice of this rumor was `posts.unmatched` (it was retracted or expired since)."""
    latest = PostMatchNotice.objects.filter(rumor_id=rumor_id).values("platform_id").annotate(last=Max("pk"))
    last_ids = [row["last"] for row in latest]
    unmatched = PostMatchNotice.objects.filter(pk__in=last_ids, event=Event.UNMATCHED)
    return set(unmatched.values_list("platform_id", flat=True))


def posts_matched_notify(*, rumor: Rumor, post_ids: list[int]) -> list[PostMatchNotice]:
    """`posts.matched` notices for the posts (ids of `Post`) newly matched to a live rumor by a re-scan, and for
    every post it matches on the platforms last told it no longer matched (it is back). Call inside the re-scan's
    transaction."""
    if not Rumor.objects.live().filter(pk=rumor.pk).exists():
        return []
    rows = list(
        Post.objects.filter(pk__in=post_ids).order_by("pk").values_list("platform_id", "platform_post_id")
        if post_ids
        else []
    )
    if withdrawn := _withdrawn_platforms(rumor.pk):
        again = _matched_posts(rumor.pk).filter(post__platform_id__in=withdrawn).order_by("post_id")
        rows += list(again.values_list("post__platform_id", "post__platform_post_id"))
    return _notices(rumor, Event.MATCHED, rows)


def posts_unmatched_notify(*, rumor: Rumor) -> list[PostMatchNotice]:
    """`posts.unmatched` notices for every post matched to a rumor just retracted or expired (automatically or
    confirmed by a reviewer), per platform. Call inside the transition's transaction."""
    rows = _matched_posts(rumor.pk).order_by("post__platform_id", "post_id")
    return _notices(rumor, Event.UNMATCHED, rows.values_list("post__platform_id", "post__platform_post_id"))


def notices_feed(*, platform_id: int, event: str | None = None) -> QuerySet[PostMatchNotice]:
    """A platform's notices (all, or of one event), for the pull feed."""
    notices = PostMatchNotice.objects.filter(platform_id=platform_id)
    return notices.filter(event=event) if event else notices


# --- sending ---------------------------------------------------------------------------------------------------


class PostMatchNotices(OutboxKind):
    """A post match notice goes to its platform's current endpoint; without one it waits for one (the platform reads
    GET /api/v1/posts/matches meanwhile)."""

    model = PostMatchNotice
    name = "post match notice"

    def body(self, message: PostMatchNotice) -> bytes:
        event = {"type": message.event, "timestamp": message.created_at.isoformat(), "data": feed_item(message)}
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


NOTICES = PostMatchNotices()


def notice_attempt(*, notice_id: int) -> str:
    """Send one notice if due (debunk.webhooks.services.outbox_attempt)."""
    return outbox_attempt(kind=NOTICES, message_id=notice_id)


def notices_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the notices whose next attempt is due, oldest first."""
    now = now or timezone.now()
    due = PostMatchNotice.objects.filter(status__in=OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts")[:1000])
