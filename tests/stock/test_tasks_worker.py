"""Tasks through a real Redis broker and a real Celery worker process (run by .ci/run)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.stock import rumors as svc
from debunk.stock.models import Rumor
from debunk.stock.tasks import expire_rumors
from tests.celery_worker import wait_until
from tests.factories import UserFactory, make_rumor


@pytest.mark.celery_worker
def test_worker_expires_published_rumors_past_their_window(celery_worker):
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumors = []
    for i in range(3):
        rumor = make_rumor(checker, claim=f"过期测试{i}", valid_until=timezone.now() + timedelta(days=1))
        svc.rumor_submit(rumor=rumor, by=checker)
        svc.rumor_publish(rumor=rumor, by=reviewer)
        rumors.append(rumor)
    past = [r.pk for r in rumors[:2]]
    Rumor.objects.filter(pk__in=past).update(valid_until=timezone.now() - timedelta(minutes=1))

    expire_rumors.delay()  # goes through Redis; the worker fans out one task per rumor

    assert wait_until(lambda: Rumor.objects.filter(pk__in=past, status="expired").count() == 2), (
        "the worker did not expire the rumors in time"
    )
    assert Rumor.objects.get(pk=rumors[2].pk).status == "published"
    assert AuditEvent.objects.filter(action="rumor.expire").count() == 2
    expire_rumors.delay()  # running again changes nothing: the task is idempotent
    assert not wait_until(lambda: AuditEvent.objects.filter(action="rumor.expire").count() > 2, timeout=3)
