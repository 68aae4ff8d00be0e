"""Celery tasks of the rumor stock.

Task names are pinned (`debunk.tasks.<name>`, where they lived first) so that queued tasks and the beat
schedule survive moves."""

import logging

from celery import shared_task
from django.utils import timezone

from debunk.core.roles import REVIEWER, system_user
from debunk.stock.models import Rumor
from debunk.stock.rumors import rumor_expire

logger = logging.getLogger(__name__)


@shared_task(name="debunk.tasks.expire_rumors")
def expire_rumors() -> int:
    """Expire published rumors whose validity window has ended (run by Celery beat)."""
    due = Rumor.objects.filter(status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now())
    ids = list(due.values_list("pk", flat=True))
    for rumor_id in ids:
        expire_rumor.delay(rumor_id)
    return len(ids)


@shared_task(name="debunk.tasks.expire_rumor")
def expire_rumor(rumor_id: int) -> bool:
    rumor = Rumor.objects.filter(pk=rumor_id, status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now()).first()
    if rumor is None:
        return False
    rumor_expire(rumor=rumor, by=system_user("system-scheduler", REVIEWER))
    logger.info("rumor %s expired", rumor_id)
    return True
