"""Celery tasks: they take ids, re-read the rows and call services, so running one twice is harmless."""

import logging

from celery import shared_task
from django.utils import timezone

from debunk.models import Rumor
from debunk.services.roles import REVIEWER, system_user
from debunk.services.rumors import rumor_expire

logger = logging.getLogger(__name__)


@shared_task
def expire_rumors() -> int:
    """Expire published rumors whose validity window has ended (run by Celery beat)."""
    due = Rumor.objects.filter(status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now())
    ids = list(due.values_list("pk", flat=True))
    for rumor_id in ids:
        expire_rumor.delay(rumor_id)
    return len(ids)


@shared_task
def expire_rumor(rumor_id: int) -> bool:
    rumor = Rumor.objects.filter(pk=rumor_id, status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now()).first()
    if rumor is None:
        return False
    rumor_expire(rumor=rumor, by=system_user("system-scheduler", REVIEWER))
    logger.info("rumor %s expired", rumor_id)
    return True
