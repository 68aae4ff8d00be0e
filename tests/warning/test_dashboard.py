"""The fact-checkers' dashboard (the admin's front page): its panels with data and empty, per-panel permissions,
escaping of user text in the charts, the "needs verification" draft button, and a bounded number of queries."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.roles import VERIFIER
from debunk.corrections.models import Correction, Exposure, Interaction
from debunk.matching.models import Match, Post
from debunk.matching.services import reset_caches
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from debunk.warning import dashboard as dash
from debunk.warning.models import Alert, InterceptionCount
from labels.models import Category
from tests.factories import UserFactory, make_rumor

HOUR = InterceptionCount.Period.HOUR
DAY = InterceptionCount.Period.DAY
SPREADING = "网传某地水库大坝出现裂缝即将决堤，下游居民请立即撤离，转发给身边的人"
QUIET = "网传某超市的鸡蛋是人造的，吃了会得病，已经有很多人上当了请大家注意"


@pytest.fixture(autouse=True)
def fresh_index():
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def category(db):
    return Category.objects.get(code="livelihood")


@pytest.fixture
def weibo(db):
    return Platform.objects.create(code="weibo", name="微博")


@pytest.fixture
def douyin(db):
    return Platform.objects.create(code="douyin", name="抖音")


def panels_for(user) -> dict:
    request = RequestFactory().get("/admin/")
    request.user = user
    return dash.dashboard(request)


def hour_start(hours_ago: float):
    return (timezone.now() - timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)


def count(rumor, platform, n, *, hours_ago=1.0, action="block", period=HOUR, start=None):
    return InterceptionCount.objects.create(
        rumor=rumor, platform=platform, action=action, period=period, start=start or hour_start(hours_ago), count=n
    )


def test_every_panel_is_there_and_says_so_when_empty(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for panel in ["review", "leads", "alerts", "corrections", "trend", "top", "spreading"]:
        assert f'id="panel-{panel}"' in page, panel
    for empty in [
        "No rumor is waiting for review.",
        "No lead is waiting.",
        "No alert.",
        "No correction sent in this period.",
        "No interception in this period.",
        "No open lead was reported in this period.",
        "No unmatched archived post gained exposures in this period.",
    ]:
        assert empty in page, empty
    assert re.search(r'id="review-waiting">0<', page) and re.search(r'id="alerts-open">0<', page)
    # the sections of the site stay on the page, below the dashboard
    assert page.index('id="dashboard"') < page.index('id="dashboard-sections"') < page.index("Stock and review")
    assert "/admin/debunk/correction/" in page


def test_the_dashboard_speaks_chinese(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "审核队列" in page and "待处理线索" in page and "预警" in page and "需要核实" in page
    assert "样本库与审核" in page  # the sections


def test_review_and_lead_queues(superuser, checker, category):
    waiting = make_rumor(checker, claim="网传某地明天停电一整天，请大家提前做好准备")
    late = make_rumor(checker, claim="网传某地高速公路明天全线封闭，所有车辆禁止通行")
    make_rumor(checker, claim="网传草稿里的谣言不在审核队列里，不应计入")
    for rumor in (waiting, late):
        rumor_services.rumor_submit(rumor=rumor, by=checker)
    Rumor.objects.filter(pk=late.pk).update(review_due_at=timezone.now() - timedelta(hours=3))
    reports_submit([ReportItem(category, text=SPREADING, views=100)])
    reports_submit([ReportItem(category, text=QUIET, involves_minor=True)])
    LeadCluster.objects.filter(text=SPREADING).update(deadline_at=timezone.now() - timedelta(hours=1))

    panels = panels_for(superuser)
    review = panels["review"]
    assert (review["waiting"], review["overdue"]) == (2, 1)
    assert [item["pk"] for item in review["overdue_items"]] == [late.pk]
    assert review["overdue_url"] == "/admin/debunk/reviewitem/?deadline=overdue"
    leads = panels["leads"]
    assert (leads["waiting"], leads["overdue"], leads["minors"]) == (2, 1, 1)
    assert [item["minor"] for item in leads["items"]] == [True, False]  # minors first
    assert leads["items"][1]["overdue"] and leads["overdue_url"] == "/admin/debunk/leadcluster/?overdue=yes"


def test_alerts_open_first_closed_left_out(superuser, checker, category):
    old = make_rumor(checker, claim="网传三年前的旧谣言又开始传播了，说某地地震")
    new = make_rumor(checker, claim="网传某品牌奶粉含有有害物质，已经全部下架")
    gone = make_rumor(checker, claim="网传已经关闭的预警不应出现在首页上")
    reports_submit([ReportItem(category, text=SPREADING)])
    lead = LeadCluster.objects.get(text=SPREADING)
    now = timezone.now()
    Alert.objects.create(kind="resurgence", rumor=old, last_period=now, observed=9, expected=0.2, updated_at=now)
    Alert.objects.create(
        kind="surge", rumor=new, status="acknowledged", last_period=now, updated_at=now + timedelta(minutes=5)
    )
    Alert.objects.create(kind="lead_surge", cluster=lead, last_period=now, observed=4, expected=1.5)
    Alert.objects.create(kind="surge", rumor=gone, status="closed", last_period=now)

    alerts = panels_for(superuser)["alerts"]
    assert (alerts["open"], alerts["acknowledged"]) == (2, 1)
    assert [item["open"] for item in alerts["items"]] == [True, True, False]
    subjects = {item["subject"] for item in alerts["items"]}
    assert "网传已经关闭的预警不应出现在首页上" not in subjects
    assert {i["subject_url"] for i in alerts["items"]} >= {f"/admin/debunk/leadcluster/{lead.pk}/change/"}


def test_top_intercepted_per_platform_sums_hours_and_days(superuser, checker, weibo, douyin):
    a = make_rumor(checker, claim="网传甲谣言：某地自来水有毒")
    b = make_rumor(checker, claim="网传乙谣言：某地学校停课")
    c = make_rumor(checker, claim="网传丙谣言：某地银行倒闭")
    today = timezone.localdate()
    midnight = timezone.make_aware(timezone.datetime.combine(today - timedelta(days=3), timezone.datetime.min.time()))
    count(a, weibo, 5, hours_ago=1)
    count(a, weibo, 7, hours_ago=2, action="label")
    count(a, weibo, 100, period=DAY, start=midnight)  # a rolled-up day
    count(b, weibo, 50, hours_ago=3)
    count(c, weibo, 1000, hours_ago=24 * 9)  # before the week
    count(c, douyin, 3, hours_ago=1)

    top = panels_for(superuser)["top"]
    by_name = {p["name"]: p for p in top["platforms"]}
    assert [(r["pk"], r["total"]) for r in by_name["微博"]["rumors"]] == [(a.pk, 112), (b.pk, 50)]
    assert [(r["pk"], r["total"]) for r in by_name["抖音"]["rumors"]] == [(c.pk, 3)]
    assert [p["name"] for p in top["platforms"]] == ["微博", "抖音"]  # the busiest platform first
    assert "<svg" in by_name["微博"]["chart"] and "网传甲谣言" in by_name["微博"]["chart"]


def test_only_the_top_few_per_platform(superuser, checker, weibo):
    rumors = [make_rumor(checker, claim=f"网传第{n}条谣言，内容各不相同 {n}") for n in range(dash.TOP_PER_PLATFORM + 2)]
    for n, rumor in enumerate(rumors):
        count(rumor, weibo, 10 + n)
    listed = panels_for(superuser)["top"]["platforms"][0]["rumors"]
    assert [r["total"] for r in listed] == sorted((10 + n for n in range(len(rumors))), reverse=True)[:5]


def test_trend_per_day_by_action(superuser, checker, weibo):
    rumor = make_rumor(checker)
    count(rumor, weibo, 4, hours_ago=0, action="block")
    count(rumor, weibo, 6, hours_ago=0, action="label", start=hour_start(0) - timedelta(days=2))
    count(rumor, weibo, 9, action="review", start=hour_start(0) - timedelta(days=20))  # too old
    trend = panels_for(superuser)["trend"]
    assert trend["total"] == 10
    series = {code: values for code, _label, values in trend["series"]}
    assert series["block"][-1] == 4 and sum(series["block"]) == 4
    assert series["label"][-3] == 6 and sum(series["label"]) == 6
    assert "review" not in series and len(series["block"]) == dash.TREND_DAYS


def test_corrections_sent_and_acknowledged(superuser, checker, weibo):
    rumor = make_rumor(checker)
    now = timezone.now()

    def correction(n, **fields):
        return Correction.objects.create(
            platform=weibo, rumor=rumor, user_hash=f"u{n}", interaction=Interaction.VIEW, exposed_at=now, **fields
        )

    correction(1, status="delivered", delivered_at=now)
    correction(2, status="acknowledged", delivered_at=now - timedelta(days=1), acknowledged_at=now)
    correction(3, status="delivered", delivered_at=now - timedelta(days=10))  # before the 7 days
    correction(4, status="pending")
    panel = panels_for(superuser)["corrections"]
    assert (panel["sent"], panel["acknowledged"]) == (2, 1)
    assert "<svg" in panel["chart"]


def test_needs_verification_lists_spreading_leads_and_unmatched_posts(superuser, checker, category, weibo):
    reports_submit([ReportItem(category, text=SPREADING, views=5000, reposts=70) for _ in range(3)])
    reports_submit([ReportItem(category, text=QUIET, views=10)])
    quiet = LeadCluster.objects.get(text=QUIET)
    stale = reports_submit([ReportItem(category, text="网传一条很久以前报告的线索，最近没有新的举报")])[0]
    from debunk.reports.models import RumorReport

    RumorReport.objects.filter(pk=stale.id).update(received_at=timezone.now() - timedelta(days=3))
    rumor = make_rumor(checker)
    now = timezone.now()
    hot = Post.objects.create(platform=weibo, platform_post_id="p-hot", text="未匹配的帖子正在快速传播", archived=True)
    warm = Post.objects.create(
        platform=weibo, platform_post_id="p-warm", text="被驳回匹配的帖子仍算未匹配", archived=True
    )
    matched = Post.objects.create(platform=weibo, platform_post_id="p-matched", text="已匹配的帖子", archived=True)
    queued = Post.objects.create(platform=weibo, platform_post_id="p-queued", text="不在档案里的帖子", archived=False)
    Match.objects.create(post=matched, rumor=rumor, status=Match.Status.AUTO, similarity=1.0, containment=1.0)
    Match.objects.create(post=warm, rumor=rumor, status=Match.Status.REJECTED, similarity=0.5, containment=0.5)
    for post, n in ((hot, 5), (warm, 2), (matched, 9), (queued, 9)):
        for i in range(n):
            Exposure.objects.create(
                platform=weibo,
                platform_post_id=post.platform_post_id,
                post=post,
                user_hash=f"u{i}",
                interaction=5,
                at=now,
            )
    Exposure.objects.create(
        platform=weibo, platform_post_id="p-warm", post=warm, user_hash="old", interaction=5, at=now - timedelta(days=2)
    )

    spreading = panels_for(superuser)["spreading"]
    leads = spreading["leads"]
    assert [lead["text"][:10] for lead in leads] == [SPREADING[:10], QUIET[:10]]
    assert (leads[0]["reports"], leads[0]["views"], leads[0]["reposts"]) == (3, 15000, 210)
    assert leads[1]["pk"] == quiet.pk and leads[0]["draft_url"].endswith("/triage/draft/")
    assert [(p["platform_post_id"], p["exposures"]) for p in spreading["posts"]] == [("p-hot", 5), ("p-warm", 2)]
    assert spreading["posts"][0]["url"] == f"/admin/debunk/post/{hot.pk}/change/"


def test_the_draft_button_creates_a_draft_rumor(client, checker, category):
    reports_submit([ReportItem(category, text=SPREADING, views=900)])
    lead = LeadCluster.objects.get(text=SPREADING)
    client.force_login(checker)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="draft">(.*?)</form>', page, re.S)
    assert form, "no draft button"
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    response = client.post(form.group(1), fields)
    assert response.status_code == 302 and response["Location"] == f"/admin/debunk/leadcluster/{lead.pk}/change/"
    lead.refresh_from_db()
    assert lead.status == LeadCluster.Status.DRAFTED and lead.rumor.status == Rumor.Status.DRAFT
    assert lead.rumor.verdict.code == "false"


def test_panels_follow_the_permissions(client, checker, category):
    reports_submit([ReportItem(category, text=SPREADING)])
    verifier = UserFactory(username="verifier", roles=[VERIFIER])
    assert panels_for(verifier) == {}
    client.force_login(verifier)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<div id="dashboard">' not in page and 'id="panel-' not in page

    assert set(panels_for(checker)) == {"review", "leads", "alerts", "top", "trend", "corrections", "spreading"}

    narrow = UserFactory(username="narrow", roles=[])
    narrow.user_permissions.add(Permission.objects.get(codename="view_leadcluster"))
    panels = panels_for(type(narrow).objects.get(pk=narrow.pk))
    assert set(panels) == {"leads", "spreading"}
    assert "posts" not in panels["spreading"] and panels["spreading"]["leads"][0]["draft_url"] is False
    client.force_login(narrow)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="panel-leads"' in page and 'id="panel-review"' not in page and 'class="draft"' not in page
    assert 'id="spreading-posts"' not in page


def test_user_text_is_escaped_in_the_page_and_the_charts(client, superuser, checker, weibo, category):
    claim = '网传<script>alert("x")</script><img src=x onerror=alert(1)>谣言'
    rumor = make_rumor(checker, claim=claim)
    count(rumor, weibo, 12)
    Alert.objects.create(kind="surge", rumor=rumor, last_period=timezone.now())
    Platform.objects.filter(pk=weibo.pk).update(name="<b>微博</b>")
    reports_submit([ReportItem(category, text="网传<script>alert(2)</script>一条正在传播的线索内容很长很长")])

    chart = panels_for(superuser)["top"]["platforms"][0]["chart"]
    assert "<script" not in chart.lower() and "<img" not in chart
    assert "&lt;script&gt;" in chart
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>微博</b>" not in page
    assert "&lt;script&gt;alert" in page


def test_chart_svg_removes_pygal_scripts():
    chart = dash._chart(dash.pygal.Bar)
    chart.x_labels = ["</script><script>alert(1)</script>"]
    chart.add("a", [1])
    svg = dash.chart_svg(chart)
    assert svg.startswith("<svg") and "<script" not in svg.lower()
    assert "&lt;/script&gt;&lt;script&gt;" in svg


def test_bounded_queries_with_ten_thousand_counts(
    client, superuser, checker, category, weibo, douyin, capsys, django_assert_max_num_queries
):
    rumors = [make_rumor(checker, claim=f"网传第{n}条谣言正在传播 {n}", with_debunk=False) for n in range(50)]
    for rumor in rumors[:5]:
        rumor_services.rumor_submit(rumor=rumor, by=checker)
        Alert.objects.create(kind="surge", rumor=rumor, last_period=timezone.now())
    now = hour_start(0)
    rows = [
        InterceptionCount(
            rumor=rumors[i % 50],
            platform=(weibo, douyin)[i % 2],
            action=("block", "label", "review")[i % 3],
            period=HOUR,
            start=now - timedelta(hours=i // 100),
            count=1 + i % 7,
        )
        for i in range(10_000)
    ]
    InterceptionCount.objects.bulk_create(rows)
    reports_submit([ReportItem(category, text=f"{SPREADING} 第{n}版", views=n) for n in range(12)])
    client.force_login(superuser)
    client.get("/admin/")  # warm: the session, the content types, the templates
    with django_assert_max_num_queries(30) as queries:
        began = time.perf_counter()
        response = client.get("/admin/")
        took = time.perf_counter() - began
    assert response.status_code == 200
    with capsys.disabled():
        print(f"\n/admin/ with 10,000 counts rows: {len(queries)} queries, {took * 1000:.0f} ms")
    page = response.content.decode()
    assert page.count('class="alert-row"') == 5 and 'id="panel-top"' in page
