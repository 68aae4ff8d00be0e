"""Exposures: which (pseudonymous) users saw or interacted with which posts, as platforms report them."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Exposure, Interaction
from debunk.corrections.services import fanout_schedule
from debunk.matching.models import MATCHED_STATUSES, Match, Post


@dataclass(frozen=True)
class ExposureReport:
    platform_post_id: str
    user_ref: str
    interaction: Interaction
    at: datetime


def exposures_record(*, platform: Platform, reports: list[ExposureReport]) -> int:
    """Store a batch of exposures; returns how many were new. A repeated report (same post, user and
    interaction) is ignored. Exposures of posts that already carry a published rumor get their
    corrections scheduled; those of posts not yet reported wait for their post (see archive)."""
    if not reports:
        return 0
    refs = {r.platform_post_id for r in reports}
    with transaction.atomic():
        known = Post.objects.filter(platform=platform, platform_post_id__in=list(refs))
        posts = dict(known.values_list("platform_post_id", "pk"))
        now = timezone.now()
        rows = [
            Exposure(
                platform=platform,
                platform_post_id=r.platform_post_id,
                post_id=posts.get(r.platform_post_id),
                user_hash=pseudonym(platform, r.user_ref),
                interaction=r.interaction,
                at=r.at,
                created_at=now,
            )
            for r in reports
        ]
        before = Exposure.objects.filter(platform=platform, platform_post_id__in=list(refs)).count()
        Exposure.objects.bulk_create(rows, ignore_conflicts=True)
        added = Exposure.objects.filter(platform=platform, platform_post_id__in=list(refs)).count() - before
        by_rumor: dict[int, set[int]] = defaultdict(set)
        for rumor_id, post_id in Match.objects.filter(
            post_id__in=list(posts.values()), status__in=MATCHED_STATUSES
        ).values_list("rumor_id", "post_id"):
            by_rumor[rumor_id].add(post_id)
        for rumor_id, post_ids in by_rumor.items():
            fanout_schedule(rumor_id=rumor_id, post_ids=sorted(post_ids))
    return added
