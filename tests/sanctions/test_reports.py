"""Public reports (weekly, monthly; idempotent), their pages and CSV, and the administrators' work ledger."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.sanctions import reports
from debunk.sanctions import services as svc
from debunk.sanctions.models import Measure, Report, Sanction
from debunk.sanctions.tasks import publish_report
from tests.sanctions.conftest import account

pytestmark = pytest.mark.django_db


def test_periods_are_the_last_full_week_and_month():
    assert reports.period_of(kind="weekly", today=date(2026, 11, 21)) == (date(2026, 11, 9), date(2026, 11, 16))
    assert reports.period_of(kind="monthly", today=date(2026, 11, 21)) == (date(2026, 10, 1), date(2026, 11, 1))
    assert reports.period_of(kind="monthly", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2026, 1, 1))


@pytest.fixture
def last_week(rumor, platform_a, reviewer):
    """The rumor published and a typical warning applied in the last full week."""
    start, _end = reports.period_of(kind="weekly", today=timezone.localdate())
    at = timezone.make_aware(datetime.combine(start + timedelta(days=2), datetime.min.time()))
    type(rumor).objects.filter(pk=rumor.pk).update(published_at=at)
    sanction = Sanction.objects.create(
        rumor=rumor, platform=platform_a, author_hash=account("a"), measure="warning", recommended_measure="warning"
    )
    svc.sanction_apply(sanction=sanction, by=reviewer)
    svc.sanction_mark_typical(sanction=sanction, by=reviewer, typical=True, summary="首发停水谣言，予以警告")
    Sanction.objects.filter(pk=sanction.pk).update(approved_at=at)
    return sanction


def test_a_weekly_report_counts_and_is_published_once(last_week):
    report_id = publish_report("weekly")
    assert publish_report("weekly") == report_id
    report = Report.objects.get()
    assert report.data["rumors_by_category"][0]["category"] == "livelihood"
    assert report.data["sanctions_by_measure"] == [{"measure": "warning", "count": 1}]
    case = report.data["typical_cases"][0]
    assert case["summary"] == "首发停水谣言，予以警告" and "author_hash" not in case
    assert AuditEvent.objects.filter(action="report.publish").count() == 1


def test_the_public_pages_and_csv(client, last_week):
    report = Report.objects.get(pk=publish_report("weekly"))
    listing = client.get("/reports/")
    assert listing.status_code == 200 and f"/reports/{report.pk}/" in listing.content.decode()
    page = client.get(f"/reports/{report.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "首发停水谣言" in page and account("a") not in page and "warning" in page
    csv = client.get(f"/reports/{report.pk}/csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert "sanctions_by_measure,warning,1" in csv.content.decode("utf-8-sig")
    assert client.get("/reports/999/").status_code == 404


def test_the_work_ledger_is_for_administrators_only(client, administrator, reviewer, last_week):
    today = timezone.localdate()
    url = f"/admin/debunk/report/ledger/?start={today - timedelta(days=1)}&end={today + timedelta(days=1)}"
    client.force_login(reviewer)
    assert client.get(url).status_code == 403
    client.force_login(administrator)
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,at,actor,action")
    assert "sanction.apply" in text and "sanction.typical" in text
    assert AuditEvent.objects.filter(action="ledger.export", actor=administrator).exists()


def test_monthly_report_of_an_empty_month(db):
    report = reports.report_publish(kind="monthly", today=date(2026, 1, 15))
    assert (report.period_start, report.period_end) == (date(2025, 12, 1), date(2026, 1, 1))
    assert report.data == {"rumors_by_category": [], "sanctions_by_measure": [], "typical_cases": []}


def test_overturned_sanctions_are_not_counted(last_week, reviewer2, platform_a):
    svc.sanction_appeal_submit(sanction=last_week, platform=platform_a, text="申诉")
    svc.sanction_appeal_decide(sanction=last_week, by=reviewer2, uphold=False, reason="撤销")
    report = Report.objects.get(pk=publish_report("weekly"))
    assert report.data["sanctions_by_measure"] == [] and Measure.WARNING not in str(report.data["typical_cases"])
