"""The public report page in a real browser: zh-Hans, English and a phone's width; the result page and the
receipt check page."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image

from debunk.api.models import Platform
from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.matching.services import reset_caches
from debunk.reports.models import RumorReport
from tests.factories import UserFactory, publish_rumor

pytestmark = pytest.mark.browser

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
LEAD = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长做好准备"


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((360, 540)).save(out, "PNG")
    return out.getvalue()


def screenshot_file(seed: int) -> dict:
    return {"name": f"screenshot-{seed}.png", "mimeType": "image/png", "buffer": png(seed)}


@pytest.fixture
def stock(seeded_transactional_db):
    cache.clear()
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    Platform.objects.create(code="weibo", name="微博")
    rumor = publish_rumor(checker, reviewer, claim=CLAIM, category="livelihood", title="自来水厂被污染停水三天？假的")
    reset_caches()
    yield rumor
    cache.clear()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_report_a_known_rumor_in_chinese_and_check_the_receipt(page, live_server, stock, screenshot):
    page.goto(f"{live_server.url}/")
    page.click(".site-nav a:has-text('举报谣言')")
    page.wait_for_url("**/report/")
    assert page.locator("h1").inner_text() == "举报谣言"
    page.select_option("#id_category", "livelihood")
    page.fill("#id_text", CLAIM)
    page.fill("#id_url", "http://rumor.example/post/42")
    page.set_input_files("#id_images", [screenshot_file(1)])
    page.select_option("#id_where", "weibo")
    screenshot("report-form-zh-hans")
    with page.expect_navigation():
        page.click("button.primary")
    assert "/receipt/?k=" in page.url
    assert page.locator(".outcome-known h2").inner_text() == "该内容已经辟谣"
    link = page.locator(".outcome-link a")
    assert link.inner_text() == "自来水厂被污染停水三天？假的"
    assert link.get_attribute("href") == f"/rumors/{stock.pk}/"
    assert page.locator("a[href^='http://rumor.example']").count() == 0  # the link is shown as text only
    receipt = json.loads(page.locator(".receipt-json").inner_text())
    report = RumorReport.objects.get()
    assert receipt == report.receipt and report.content.images.count() == 1
    screenshot("report-result-zh-hans")
    with page.expect_download() as download:
        page.click("a.button:has-text('下载回执')")
    assert json.loads(Path(download.value.path()).read_text(encoding="utf-8")) == receipt

    page.click("a:has-text('核验回执')")
    page.wait_for_url("**/report/verify/")
    page.fill("#id_receipt", json.dumps(receipt, ensure_ascii=False, indent=2))
    with page.expect_navigation():
        page.click("button.primary")
    assert "回执真实且未被修改" in page.locator(".verdict-box.valid").inner_text()
    screenshot("report-verify-valid-zh-hans")
    page.fill("#id_receipt", json.dumps({**receipt, "received_at": "2020-01-01T00:00:00+00:00"}))
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator(".verdict-box.invalid").count() == 1
    assert page.console_errors == []


def test_report_a_new_rumor_in_english_after_a_form_error(page, live_server, stock, screenshot):
    page.goto(f"{live_server.url}/report/")
    with page.expect_navigation():
        page.select_option("#lang-select", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Report a rumor"
    page.select_option("#id_category", "livelihood")
    with page.expect_navigation():
        page.click("button.primary")  # neither text nor screenshot
    assert "Describe what you saw or attach a screenshot" in page.locator(".form-errors").inner_text()
    screenshot("report-form-error-en")
    assert RumorReport.objects.count() == 0
    page.fill("#id_text", LEAD)
    page.set_input_files("#id_images", [screenshot_file(2), screenshot_file(3)])
    page.select_option("#id_where", "other")
    page.fill("#id_where_other", "a family group chat")
    page.fill("#id_contact", "reader@example.org")
    page.check("#id_involves_minor")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator(".outcome-pending h2").inner_text() == "Received: no published debunk matches yet"
    assert "We will e-mail you the outcome." in page.locator(".outcome-pending").inner_text()
    report = RumorReport.objects.get()
    assert (report.language, report.where, report.involves_minor) == ("en", "a family group chat", True)
    assert report.content.images.count() == 2
    screenshot("report-result-en")
    assert [e for e in page.console_errors if "status of 400" not in e] == []  # the form error's answer


def test_report_at_phone_width(browser, live_server, stock, request):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, device_scale_factor=2)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    out = request.config.getoption("--screenshots-dir")
    page.goto(f"{live_server.url}/report/")
    assert no_horizontal_scroll(page)
    page.screenshot(path=f"{out}/report-form-phone.png", full_page=True)
    page.select_option("#id_category", "epidemics")
    page.fill("#id_text", LEAD)
    page.set_input_files("#id_images", [screenshot_file(4)])
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator(".outcome-pending").count() == 1
    assert no_horizontal_scroll(page)
    page.screenshot(path=f"{out}/report-result-phone.png", full_page=True)
    page.goto(f"{live_server.url}/report/verify/")
    assert no_horizontal_scroll(page)
    assert errors == []
    context.close()
