"""The alert service: the hourly scan (surge, resurgence, leads), no alert storm, auto-close, acknowledging and
closing, subscribers told by webhook outbox and e-mail, and the admin."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.reports.models import LeadCluster, ReportContent, RumorReport
from debunk.stock.models import Rumor
from debunk.warning import alerts as svc
from debunk.warning.models import Alert, AlertNotice, AlertSubscription, InterceptionCount
from labels.models import Category
from tests.factories import publish_rumor

NOW = timezone.now().replace(minute=5, second=0, microsecond=0)
CURRENT = NOW - timedelta(hours=1, minutes=5)  # the last complete hour


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


@pytest.fixture
def rumor(checker, reviewer):
    return publish_rumor(checker, reviewer)


def hits(rumor, platform, hours_ago: int, count: int, period: str = "hour") -> None:
    InterceptionCount.objects.create(
        rumor=rumor,
        platform=platform,
        action="block",
        period=period,
        start=CURRENT - timedelta(hours=hours_ago),
        count=count,
    )


def quiet_past(rumor, platform, hours: int = 48) -> None:
    for h in range(1, hours + 1):
        hits(rumor, platform, h, 1)


@pytest.fixture
def subscribers(platform, reviewer):
    reviewer.email = "reviewer@example.org"
    reviewer.save()
    AlertSubscription.objects.create(platform=platform)
    AlertSubscription.objects.create(user=reviewer)


def scan(django_capture_on_commit_callbacks, now=NOW):
    with django_capture_on_commit_callbacks(execute=True):
        return svc.alerts_scan(now=now)


def test_a_surge_opens_one_alert_and_tells_subscribers(
    rumor, platform, subscribers, django_capture_on_commit_callbacks
):
    quiet_past(rumor, platform)
    hits(rumor, platform, 0, 30)
    done = scan(django_capture_on_commit_callbacks)
    assert done["raised"] == 1
    alert = Alert.objects.get(rumor=rumor)
    assert alert.kind == Alert.Kind.SURGE and alert.status == Alert.Status.OPEN
    assert alert.observed == 30 and alert.last_period == CURRENT and alert.p_value < 1e-4 and alert.expected < 2
    notice = AlertNotice.objects.get(alert=alert)
    assert notice.event == "alert.raised" and notice.platform == platform
    assert notice.payload["data"]["alert"]["rumor_id"] == rumor.pk
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["reviewer@example.org"]
    assert AuditEvent.objects.filter(action="alert.raise", target_id=str(alert.pk)).exists()


def test_a_rumor_at_its_usual_rate_raises_nothing(rumor, platform, django_capture_on_commit_callbacks):
    for h in range(0, 48):
        hits(rumor, platform, h, 20)
    assert scan(django_capture_on_commit_callbacks)["raised"] == 0
    assert not Alert.objects.exists()


def test_updates_notify_only_when_the_level_doubles(rumor, platform, subscribers, django_capture_on_commit_callbacks):
    quiet_past(rumor, platform)
    hits(rumor, platform, 0, 30)
    scan(django_capture_on_commit_callbacks)
    # the next hour: 40 (not twice 30): updated, nobody told again
    InterceptionCount.objects.create(
        rumor=rumor, platform=platform, action="label", start=CURRENT + timedelta(hours=1), count=40
    )
    done = scan(django_capture_on_commit_callbacks, now=NOW + timedelta(hours=1))
    assert done["updated"] == 1 and done["notified"] == 0
    # the hour after: 200, well above the EWMA and at least twice what was last told: alert.updated
    InterceptionCount.objects.create(
        rumor=rumor, platform=platform, action="label", start=CURRENT + timedelta(hours=2), count=200
    )
    done = scan(django_capture_on_commit_callbacks, now=NOW + timedelta(hours=2))
    assert done["updated"] == 1 and done["notified"] == 1
    alert = Alert.objects.get(rumor=rumor)
    assert alert.peak == 200 and alert.observed == 200
    assert list(AlertNotice.objects.order_by("id").values_list("event", flat=True)) == ["alert.raised", "alert.updated"]
    assert len(mail.outbox) == 2


def test_an_old_rumor_matching_again_is_a_resurgence(rumor, platform, django_capture_on_commit_callbacks):
    Rumor.objects.filter(pk=rumor.pk).update(published_at=CURRENT - timedelta(days=200))
    hits(rumor, platform, 40 * 24, 5, period="day")
    hits(rumor, platform, 0, 2)
    scan(django_capture_on_commit_callbacks)
    assert Alert.objects.get(rumor=rumor).kind == Alert.Kind.RESURGENCE


def test_a_rumor_seen_recently_is_no_resurgence(rumor, platform, django_capture_on_commit_callbacks):
    Rumor.objects.filter(pk=rumor.pk).update(published_at=CURRENT - timedelta(days=200))
    hits(rumor, platform, 10 * 24, 5)
    hits(rumor, platform, 0, 2)
    scan(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists()


def test_a_rumor_never_matched_since_publication_long_ago_is_a_resurgence(
    rumor, platform, django_capture_on_commit_callbacks
):
    Rumor.objects.filter(pk=rumor.pk).update(published_at=CURRENT - timedelta(days=60))
    hits(rumor, platform, 0, 3)
    scan(django_capture_on_commit_callbacks)
    assert Alert.objects.get(rumor=rumor).kind == Alert.Kind.RESURGENCE


def test_a_quiet_alert_is_closed_after_a_day(rumor, platform, django_capture_on_commit_callbacks):
    quiet_past(rumor, platform)
    hits(rumor, platform, 0, 30)
    scan(django_capture_on_commit_callbacks)
    assert scan(django_capture_on_commit_callbacks, now=NOW + timedelta(hours=23))["closed"] == 0
    assert scan(django_capture_on_commit_callbacks, now=NOW + timedelta(hours=24))["closed"] == 1
    alert = Alert.objects.get(rumor=rumor)
    assert alert.status == Alert.Status.CLOSED and alert.closed_at is not None
    assert AuditEvent.objects.filter(action="alert.close", target_id=str(alert.pk)).exists()


def test_a_lead_surging_alerts_staff_not_platforms(platform, subscribers, django_capture_on_commit_callbacks):
    category = Category.objects.get(code="livelihood")
    lead = LeadCluster.objects.create(category=category, text="某地发生爆炸", deadline_at=NOW + timedelta(days=1))
    content = ReportContent.objects.create(sha256="a" * 64, text="某地发生爆炸", cluster=lead)
    for i in range(25):
        RumorReport.objects.create(
            source="public",
            category=category,
            content=content,
            received_at=CURRENT + timedelta(minutes=i),
            views=1000 * i,
        )
    scan(django_capture_on_commit_callbacks)
    alert = Alert.objects.get(cluster=lead)
    assert alert.kind == Alert.Kind.LEAD_SURGE and alert.observed == 25
    assert alert.figures["reach_growth"] == 24000
    assert not AlertNotice.objects.exists() and len(mail.outbox) == 1


def _alert(rumor) -> Alert:
    return Alert.objects.create(kind=Alert.Kind.SURGE, rumor=rumor, last_period=CURRENT, observed=9)


def test_acknowledge_and_close_need_the_permission_and_are_audited(rumor, checker, reviewer):
    alert = _alert(rumor)
    with pytest.raises(PermissionDenied):
        svc.alert_acknowledge(alert, checker)
    alert = svc.alert_acknowledge(alert, reviewer)
    assert alert.status == Alert.Status.ACKNOWLEDGED and alert.acknowledged_by == reviewer
    with pytest.raises(ValidationError):
        svc.alert_acknowledge(alert, reviewer)
    alert = svc.alert_close(alert, reviewer, reason="handled")
    assert alert.status == Alert.Status.CLOSED
    with pytest.raises(ValidationError):
        svc.alert_close(alert, reviewer)
    actions = list(AuditEvent.objects.filter(target_id=str(alert.pk)).values_list("action", flat=True))
    assert "alert.acknowledge" in actions and "alert.close" in actions
    # closed: a new surge may open another alert for the same rumor
    _alert(rumor)


def test_admin_lists_alerts_and_acknowledges(client, rumor, checker, reviewer):
    alert = _alert(rumor)
    client.force_login(checker)
    url = reverse("admin:debunk_alert_changelist")
    assert client.get(url, {"kind": "surge", "status": "open"}).status_code == 200
    client.post(url, {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN  # a fact-checker cannot
    client.force_login(reviewer)
    client.post(url, {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED


def test_subscriptions_are_for_administrators_and_audited(client, platform, administrator, reviewer):
    url = reverse("admin:debunk_alertsubscription_add")
    client.force_login(reviewer)
    assert client.get(url).status_code == 403
    client.force_login(administrator)
    response = client.post(url, {"platform": platform.pk, "is_active": "on"})
    assert response.status_code == 302
    subscription = AlertSubscription.objects.get(platform=platform)
    assert AuditEvent.objects.filter(action="alert.subscription.add", target_id=str(subscription.pk)).exists()
    # neither or both: refused with a form error, nothing written
    response = client.post(url, {"is_active": "on"})
    assert response.status_code == 200 and AlertSubscription.objects.count() == 1
