"""Demo reports for `make run` (load_demo): a demo platform forwards reports, so the lead queue has something to
triage — copies of demo rumors (linked on arrival), a lead reported many times (folded), a near-duplicate of it,
and a lead involving a minor. Idempotent: each report has an external id, and a resubmission answers the first."""

from debunk.api.models import Platform
from debunk.reports.intake import ReportItem, Submitted, reports_submit
from labels.models import Category

SCHOOL = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长们做好准备！"
REPORTS = [
    # (external id, category, text, involves a minor, reposts, views)
    *[(f"demo-school-{n}", "epidemics", SCHOOL, False, 120 * n, 5000 * n) for n in range(1, 7)],
    ("demo-school-reworded", "epidemics", "【转】" + SCHOOL + " 大家快转发给家长群", False, 40, 2200),
    (
        "demo-minor-1",
        "cyber_violence",
        "某中学初二学生因被老师当众体罚后跳楼，学校正在封锁消息，大家帮忙扩散，不能让孩子白白受委屈！",
        True,
        900,
        41000,
    ),
    (
        "demo-bridge-1",
        "transport",
        "紧急！跨江大桥出现裂缝即将封闭，今晚开始全面禁止通行，明天上班的朋友提前绕路！",
        False,
        310,
        18000,
    ),
    (
        "demo-rumor-copy-1",
        "natural_disasters",
        "【紧急扩散】地震局内部朋友刚透露：XX市未来72小时内可能发生7级以上地震！今晚千万别睡太死，贵重物品提前收好，"
        "家里有老人孩子的赶紧准备应急包！转发！宁可信其有🙏 #地震预警#",
        False,
        75,
        3900,
    ),
]


def demo_reports_load() -> list[Submitted]:
    platform, _ = Platform.objects.get_or_create(code="demo", defaults={"name": "演示平台"})
    categories = {c.code: c for c in Category.objects.filter(code__in={r[1] for r in REPORTS})}
    items = [
        ReportItem(
            categories[category],
            text=text,
            external_id=ref,
            involves_minor=minor,
            reposts=reposts,
            views=views,
            reporter=f"demo-user-{i}",
        )
        for i, (ref, category, text, minor, reposts, views) in enumerate(REPORTS)
    ]
    return reports_submit(items, platform=platform)
