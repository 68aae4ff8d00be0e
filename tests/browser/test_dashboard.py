"""The fact-checkers' dashboard (the admin's front page) in a real browser, zh-Hans and en, 1280 px wide: every
panel with data, the charts drawn as inline SVG, no script errors, and the draft button of "needs verification"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.roles import FACT_CHECKER
from debunk.corrections.models import Correction, Exposure, Interaction
from debunk.matching.models import Post
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from debunk.warning.models import Alert, InterceptionCount
from labels.models import Category
from tests.browser.test_admin_pages import login, switch_language
from tests.factories import UserFactory, make_rumor

pytestmark = pytest.mark.browser

CLAIMS = [
    "网传某市自来水厂被污染，全市停水三天",
    "网传明天起本市所有小学停课两周",
    "网传某品牌奶粉含有有害物质已全部下架",
    "网传高速公路明天全线封闭禁止通行",
    "网传某银行即将倒闭请尽快取出存款",
    "网传吃香蕉可以预防新型流感病毒",
]


def populate(checker) -> None:
    category = Category.objects.get(code="livelihood")
    weibo = Platform.objects.create(code="weibo", name="微博")
    douyin = Platform.objects.create(code="douyin", name="抖音")
    rumors = [make_rumor(checker, claim=claim) for claim in CLAIMS]
    for rumor in rumors[:3]:
        rumor_services.rumor_submit(rumor=rumor, by=checker)
    Rumor.objects.filter(pk=rumors[0].pk).update(review_due_at=timezone.now() - timedelta(hours=5))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    counts = []
    for day in range(14):
        for n, rumor in enumerate(rumors):
            for platform, scale in ((weibo, 3), (douyin, 1)):
                for action, share in (("block", 4), ("label", 2), ("review", 1)):
                    value = (6 - n) * scale * share + (day * 7 + n) % 5
                    counts.append(
                        InterceptionCount(
                            rumor=rumor, platform=platform, action=action, start=now - timedelta(days=day), count=value
                        )
                    )
    InterceptionCount.objects.bulk_create(counts)
    reports_submit(
        [ReportItem(category, text="网传某地水库大坝出现裂缝即将决堤，下游居民请立即撤离", views=8800, reposts=120)] * 4
    )
    reports_submit(
        [
            ReportItem(
                category, text="网传某小学学生在校门口被陌生人带走，家长们注意接送孩子", involves_minor=True, views=300
            )
        ]
    )
    LeadCluster.objects.filter(involves_minor=False).update(deadline_at=timezone.now() - timedelta(hours=2))
    Alert.objects.create(kind="resurgence", rumor=rumors[4], last_period=now, observed=37, expected=0.4, peak=37)
    Alert.objects.create(
        kind="surge", rumor=rumors[1], status="acknowledged", last_period=now, observed=120, expected=18.2
    )
    post = Post.objects.create(
        platform=weibo, platform_post_id="4987001", text="紧急扩散！某地明天起限水，家家户户赶紧储水", archived=True
    )
    for i in range(23):
        Exposure.objects.create(
            platform=weibo,
            platform_post_id=post.platform_post_id,
            post=post,
            user_hash=f"u{i}",
            interaction=Interaction.VIEW,
            at=timezone.now() - timedelta(minutes=i * 20),
        )
    for i in range(40):
        delivered = timezone.now() - timedelta(days=i % 7, hours=1)
        Correction.objects.create(
            platform=weibo,
            rumor=rumors[i % 3],
            user_hash=f"c{i}",
            interaction=Interaction.VIEW,
            exposed_at=delivered,
            status="acknowledged" if i % 3 else "delivered",
            delivered_at=delivered,
            acknowledged_at=delivered + timedelta(minutes=5) if i % 3 else None,
        )


def test_dashboard_in_both_languages(page, live_server, seeded_transactional_db, screenshot):
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    populate(checker)
    page.set_extra_http_headers({"Accept-Language": "zh-hans"})
    login(page, live_server, "checker")
    page.goto(f"{live_server.url}/admin/")
    for panel in ["review", "leads", "alerts", "corrections", "trend", "top", "spreading"]:
        assert page.locator(f"#panel-{panel}").is_visible(), panel
    assert page.locator("#dashboard svg.pygal-chart").count() == 4  # corrections, trend, two platforms
    assert page.locator("#review-overdue").inner_text() == "1"
    assert "审核队列" in page.locator("#panel-review h2").inner_text()
    assert page.locator("#dashboard-sections caption").first.is_visible()  # the sections, below
    box = page.locator("#dashboard").bounding_box()
    assert box["width"] > 1000  # the panels use the page's width
    screenshot("admin-dashboard-zh")
    switch_language(page, "en")
    assert "Review queue" in page.locator("#panel-review h2").inner_text()
    screenshot("admin-dashboard-en")
    assert page.console_errors == []
    with page.expect_navigation():
        page.locator("#spreading-leads form.draft input[type=submit]").first.click()
    assert page.locator(".messagelist .success").count() == 1
    assert LeadCluster.objects.filter(status=LeadCluster.Status.DRAFTED).count() == 1
