"""The lead queue and a lead's page in a real browser (zh-Hans first): figures, overdue in red, the screenshot
thumbnail loads from the private view, dismissing through the form."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.core.roles import FACT_CHECKER
from debunk.images.services import query_image
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster
from labels.models import Category
from tests.browser.test_admin_pages import login
from tests.factories import UserFactory
from tests.reports.test_intake import LEAD, png

pytestmark = pytest.mark.browser


def test_lead_queue_and_dismissal(page, live_server, seeded_transactional_db, screenshot):
    UserFactory(username="checker", roles=[FACT_CHECKER])
    category = Category.objects.get(code="livelihood")
    reports_submit([ReportItem(category, text=LEAD, images=(query_image(png(5)),), views=1200, reposts=30)])
    minor = "网传某小学学生在校门口被陌生人带走，家长们注意接送孩子"
    reports_submit([ReportItem(category, text=minor, involves_minor=True)])
    lead = LeadCluster.objects.get(text=LEAD)
    LeadCluster.objects.filter(pk=lead.pk).update(deadline_at=timezone.now() - timedelta(hours=2))
    page.set_extra_http_headers({"Accept-Language": "zh-hans"})
    login(page, live_server, "checker")
    page.goto(f"{live_server.url}/admin/debunk/leadcluster/")
    assert page.locator("#lead-figures").is_visible()
    assert page.locator(".lead-overdue").count() == 1
    screenshot("admin-lead-queue-zh")
    page.goto(f"{live_server.url}/admin/debunk/leadcluster/{lead.pk}/change/")
    thumb = page.locator("img.report-screenshot").first
    thumb.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", thumb.element_handle()) > 0
    screenshot("admin-lead-page-zh")
    page.fill("#id_dismiss-reason", "不是谣言")
    with page.expect_navigation():
        page.click(".triage-dismiss input[type=submit]")
    assert page.locator(".messagelist .success").count() == 1
    lead.refresh_from_db()
    assert lead.status == "dismissed"
