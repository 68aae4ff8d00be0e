"""The fact-checkers' admin in a real browser: review queue, edit page, publishing, both languages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.stock import rumors as svc
from debunk.stock.models import Rumor
from tests.factories import UserFactory, make_rumor

pytestmark = pytest.mark.browser


@pytest.fixture
def stock(seeded_transactional_db):
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    urgent = make_rumor(checker, claim="紧急扩散！某化工厂今晚爆炸，附近居民速撤离", category="work_safety")
    calm = make_rumor(checker, claim="网传某市明年起养老金统一上调20%", category="livelihood")
    for rumor in (calm, urgent):
        svc.rumor_submit(rumor=rumor, by=checker)
    Rumor.objects.filter(pk=urgent.pk).update(review_due_at=timezone.now() - timedelta(hours=1))
    return {"reviewer": reviewer, "urgent": urgent, "calm": calm}


def login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def switch_language(page, code):
    with page.expect_navigation():
        page.select_option("#user-tools select[name=language]", code)


def test_review_queue_and_publish_in_both_languages(page, live_server, stock, screenshot):
    login(page, live_server, "reviewer")
    page.goto(f"{live_server.url}/admin/debunk/reviewitem/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "化工厂" in rows.nth(0).inner_text()  # overdue first
    assert "逾期" in rows.nth(0).inner_text()
    screenshot("review-queue-zh-hans")

    page.goto(f"{live_server.url}/admin/debunk/rumor/{stock['urgent'].pk}/change/")
    assert page.locator("a.transition-publish").is_visible()
    screenshot("rumor-edit-zh-hans")

    switch_language(page, "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("a.transition-publish").inner_text().lower() == "publish"
    screenshot("rumor-edit-en")
    page.goto(f"{live_server.url}/admin/debunk/reviewitem/")
    assert "overdue" in page.locator("#result_list tbody tr").nth(0).inner_text()
    screenshot("review-queue-en")

    page.goto(f"{live_server.url}/admin/debunk/rumor/{stock['urgent'].pk}/change/")
    page.click("a.transition-publish")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    stock["urgent"].refresh_from_db()
    assert stock["urgent"].status == Rumor.Status.PUBLISHED

    page.goto(f"{live_server.url}/")
    assert "化工厂" in page.locator(".debunk-card").first.inner_text()
    assert page.console_errors == []
