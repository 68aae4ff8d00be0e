"""The public site in a real browser: home → column → rumor page → search, both languages, mobile width."""

import json

import pytest

from debunk.core.roles import FACT_CHECKER, REVIEWER
from tests.factories import UserFactory, publish_rumor

pytestmark = pytest.mark.browser


@pytest.fixture
def stock(seeded_transactional_db):
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    water = publish_rumor(
        checker, reviewer, claim="网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水", category="livelihood"
    )
    vaccine = publish_rumor(
        checker,
        reviewer,
        claim="网传接种新冠疫苗后会改变人体基因，专家呼吁立即停止接种",
        category="epidemics",
        title="接种疫苗会改变基因？假的",
        summary="mRNA 疫苗不会进入细胞核，不会改变人体基因。",
        verified_by="国家卫生健康委员会",
    )
    return {"water": water, "vaccine": vaccine}


def test_home_column_rumor_search(page, live_server, stock, screenshot):
    page.goto(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator(".debunk-card").count() == 2
    screenshot("public-home-zh-hans")

    page.click(".columns-strip a:has-text('突发公共事件')")
    page.wait_for_url("**/columns/public_emergencies/")
    assert page.locator(".debunk-card").count() == 1
    screenshot("public-column-zh-hans")

    page.click(".debunk-card h3 a")
    page.wait_for_url(f"**/rumors/{stock['vaccine'].pk}/")
    assert page.locator("h1").inner_text() == "接种疫苗会改变基因？假的"
    review = json.loads(page.locator("script[type='application/ld+json']").text_content())
    assert review["@type"] == "ClaimReview"
    screenshot("public-rumor-zh-hans")

    page.goto(f"{live_server.url}/search/?q=疫苗")
    first = page.locator(".results .debunk-card").first
    assert f"/rumors/{stock['vaccine'].pk}/" in first.locator("h3 a").get_attribute("href")
    assert first.locator("mark").count() >= 1
    screenshot("public-search-zh-hans")
    assert page.console_errors == []


def test_search_box_and_english(page, live_server, stock, screenshot):
    page.goto(f"{live_server.url}/")
    page.fill("#search-q", "停水")
    with page.expect_navigation():
        page.press("#search-q", "Enter")
    assert f"/rumors/{stock['water'].pk}/" in page.locator(".results .debunk-card h3 a").first.get_attribute("href")
    with page.expect_navigation():
        page.select_option("#lang-select", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "result" in page.locator(".result-count").inner_text()
    screenshot("public-search-en")
    assert page.console_errors == []


def test_mobile_rumor_page(browser, live_server, stock, request):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(f"{live_server.url}/rumors/{stock['vaccine'].pk}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no horizontal scrolling on a phone
    out = request.config.getoption("--screenshots-dir")
    page.screenshot(path=f"{out}/public-rumor-mobile.png", full_page=True)
    assert errors == []
    context.close()
