"""The fact-checkers' dashboard: the admin's front page (`DebunkAdminSite.index`), in panels.

- the review queue (rumors in review, the overdue ones first) and the lead queue (open leads, minors first);
- alerts (open and acknowledged, from debunk.warning.models.Alert: written by the detector, only read here);
- the top intercepted rumors of the last 7 days per platform, and the interceptions per day over 14 days by action
  (InterceptionCount: "hour" and "day" rows summed, a roll-up replacing its hours by one day row);
- corrections delivered and acknowledged per day over 7 days;
- "needs verification": unmatched content spreading fast: open leads with the most reports (then views) received in
  the last 24 h, each with a one-click draft rumor (the lead admin's own triage action), and archived posts with no
  match that gained the most exposures in the last 24 h.

Each panel is there only for an account holding its view permission (a verifier, the narrow role, sees none) and
costs one or two queries whatever the volume. Charts are server-side SVG (pygal), inline, without pygal's script:
every user text (rumor claims) goes in as a label, which pygal escapes as XML text.
"""

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

import pygal
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from pygal.style import Style

from debunk.corrections.models import Correction, Exposure
from debunk.matching.models import Match
from debunk.reports.models import LeadCluster, RumorReport
from debunk.reports.triage import DEFAULT_VERDICT, TRIAGE
from debunk.stock.models import Rumor
from debunk.warning.models import Alert, InterceptionCount

LISTED = 5  # items listed in a panel (overdue rumors, leads, alerts per kind of list)
SPREADING = 8  # leads and posts listed under "needs verification"
TOP_PER_PLATFORM = 5
PLATFORMS_SHOWN = 6
WEEK_DAYS = 7
TREND_DAYS = 14
SPREAD_HOURS = 24
LABEL_CHARS = 24  # a claim as a chart label

# The match API's actions, most severe first, with their labels (msgids shared with the API's docs).
ACTIONS = [
    ("block", gettext_lazy("block")),
    ("label", gettext_lazy("label")),
    ("review", gettext_lazy("review")),
    ("allow", gettext_lazy("allow")),
]

# The admin's own colours (its header, links, the lead queue's bars, its error red), then neutral ones.
COLORS = ("#417690", "#79aec8", "#ba2121", "#e0a030", "#5b80b2", "#8a8a8a", "#2e7d32", "#b35c9e")
FONTS = '"Segoe UI", system-ui, Roboto, "Helvetica Neue", Arial, "Noto Sans CJK SC", "Noto Sans SC", sans-serif'
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#444",
    foreground_strong="#333",
    foreground_subtle="#bbb",
    opacity=".85",
    opacity_hover="1",
    colors=COLORS,
    font_family=FONTS,
    label_font_family=FONTS,
    major_label_font_family=FONTS,
    value_font_family=FONTS,
    value_label_font_family=FONTS,
    legend_font_family=FONTS,
    title_font_family=FONTS,
    tooltip_font_family=FONTS,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=11,
    value_font_size=10,
    title_font_size=12,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def chart_svg(chart: Any) -> SafeString:
    """The chart as inline SVG markup, without pygal's scripts (the page runs none). pygal builds the SVG as an
    element tree, so every label and title is escaped XML text; the scripts are its own config and tooltips."""
    svg = chart.render(is_unicode=True)
    return mark_safe(_SCRIPT.sub("", svg))


def _chart(kind: type, **options: Any) -> Any:
    defaults = {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "show_y_guides": True,
        "show_x_guides": False,
        "legend_at_bottom": True,
        "legend_box_size": 10,
        "margin": 6,
        "print_values": False,
        "no_data_text": _("No data"),
        "truncate_label": -1,
        "truncate_legend": -1,
    }
    return kind(**{**defaults, **options})


def _wide_margin(labels: list[str], font_size: int) -> float:
    """The room pygal's label width estimate (0.6 em a character) misses for the longest label: Chinese characters
    are full-width (1 em)."""
    wide = [sum(unicodedata.east_asian_width(c) in "WF" for c in label) for label in labels]
    return max(wide, default=0) * font_size * 0.35


def _ticks(top: int) -> list[int]:
    """Three or four round values from 0 to at least `top`, for a small chart's value axis."""
    step = 1
    while step * 3 < top:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if step * 3 >= top:
                break
    return [step * n for n in range(4) if n == 0 or step * (n - 1) < top]


def _url(name: str, *args: Any) -> str | None:
    """The admin URL, or None when that admin page is not registered (a part not installed yet)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _short(text: str, chars: int = 60) -> str:
    return Truncator(" ".join((text or "").split())).chars(chars) or "—"


# --- the panels ----------------------------------------------------------------------------------------------------


def review_panel(now: datetime) -> dict[str, Any]:
    queue = Rumor.objects.filter(status=Rumor.Status.IN_REVIEW)
    late = Q(review_due_at__lt=now)
    figures = queue.aggregate(waiting=Count("pk"), overdue=Count("pk", filter=late))
    overdue = [
        {"pk": r.pk, "claim": _short(r.claim), "due": r.review_due_at, "url": _url("admin:debunk_rumor_change", r.pk)}
        for r in queue.filter(late).only("pk", "claim", "review_due_at").order_by("review_due_at", "pk")[:LISTED]
    ]
    url = _url("admin:debunk_reviewitem_changelist")
    return {**figures, "overdue_items": overdue, "url": url, "overdue_url": url and f"{url}?deadline=overdue"}


def leads_panel(now: datetime) -> dict[str, Any]:
    waiting = LeadCluster.objects.filter(status=LeadCluster.Status.OPEN)
    figures = waiting.aggregate(
        waiting=Count("pk"),
        overdue=Count("pk", filter=Q(deadline_at__lt=now)),
        minors=Count("pk", filter=Q(involves_minor=True)),
    )
    first = waiting.only("pk", "text", "involves_minor", "deadline_at", "report_count").order_by(
        "-involves_minor", "deadline_at", "-report_count", "pk"
    )[:LISTED]
    items = [
        {
            "pk": lead.pk,
            "text": _short(lead.text),
            "minor": lead.involves_minor,
            "deadline": lead.deadline_at,
            "overdue": lead.deadline_at < now,
            "reports": lead.report_count,
            "url": _url("admin:debunk_leadcluster_change", lead.pk),
        }
        for lead in first
    ]
    url = _url("admin:debunk_leadcluster_changelist")
    return {**figures, "items": items, "url": url, "overdue_url": url and f"{url}?overdue=yes"}


def alerts_panel() -> dict[str, Any]:
    live = Alert.objects.exclude(status=Alert.Status.CLOSED)
    figures = live.aggregate(
        open=Count("pk", filter=Q(status=Alert.Status.OPEN)),
        acknowledged=Count("pk", filter=Q(status=Alert.Status.ACKNOWLEDGED)),
    )
    rows = (
        live.select_related("rumor", "cluster")
        .only("pk", "kind", "status", "updated_at", "observed", "expected", "peak", "rumor__claim", "cluster__text")
        .order_by("-status", "-updated_at", "-pk")  # open before acknowledged[: 2 * LISTED]
    )
    items = [
        {
            "pk": alert.pk,
            "kind": alert.get_kind_display(),
            "resurgence": alert.kind == Alert.Kind.RESURGENCE,
            "open": alert.status == Alert.Status.OPEN,
            "status": pgettext("alert status", "acknowledged") if alert.status == Alert.Status.ACKNOWLEDGED else "",
            "subject": _short(alert.rumor.claim if alert.rumor_id else alert.cluster.text),
            "subject_url": (
                _url("admin:debunk_rumor_change", alert.rumor_id)
                if alert.rumor_id
                else _url("admin:debunk_leadcluster_change", alert.cluster_id)
            ),
            "observed": alert.observed,
            "expected": alert.expected,
            "updated_at": alert.updated_at,
            "url": _url("admin:debunk_alert_change", alert.pk),
        }
        for alert in rows
    ]
    return {**figures, "items": items, "url": _url("admin:debunk_alert_changelist")}


def _counts_since(start: datetime) -> Any:
    """InterceptionCount rows of hours and days from `start` on (a day row's start is its local midnight)."""
    periods = [InterceptionCount.Period.HOUR, InterceptionCount.Period.DAY]
    return InterceptionCount.objects.filter(period__in=periods, start__gte=start)


def _local_midnight(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def top_intercepted_panel(today: Any) -> dict[str, Any]:
    """The rumors intercepted most over the last 7 days (today included), the first few per platform: one query
    (a window ranks each platform's rumors)."""
    start = _local_midnight(today - timedelta(days=WEEK_DAYS - 1))
    rows = list(
        _counts_since(start)
        .values("platform_id", "platform__name", "rumor_id", "rumor__claim")
        .annotate(total=Sum("count"))
        .annotate(rank=Window(RowNumber(), partition_by=F("platform_id"), order_by=[F("total").desc(), F("rumor_id")]))
        .filter(rank__lte=TOP_PER_PLATFORM)
        .order_by("platform__name", "platform_id", "rank")
    )
    platforms: dict[int, dict[str, Any]] = {}
    for row in rows:
        platform = platforms.setdefault(row["platform_id"], {"name": row["platform__name"], "total": 0, "rumors": []})
        platform["total"] += row["total"]
        platform["rumors"].append(
            {
                "pk": row["rumor_id"],
                "claim": _short(row["rumor__claim"]),
                "label": _short(row["rumor__claim"], LABEL_CHARS),
                "total": row["total"],
                "url": _url("admin:debunk_rumor_change", row["rumor_id"]),
            }
        )
    shown = sorted(platforms.values(), key=lambda p: -p["total"])[:PLATFORMS_SHOWN]
    for platform in shown:
        rumors = platform["rumors"]
        chart = _chart(
            pygal.HorizontalBar,
            width=400,
            height=40 + 26 * len(rumors),
            show_legend=False,
            show_y_guides=False,
            show_x_guides=True,
            margin_right=16,
            margin_left=4 + _wide_margin([r["label"] for r in rumors], STYLE.label_font_size),
        )
        chart.y_labels = _ticks(max(r["total"] for r in rumors))
        chart.x_labels = [r["label"] for r in reversed(rumors)]
        chart.add(platform["name"], [r["total"] for r in reversed(rumors)])
        platform["chart"] = chart_svg(chart)
    return {"platforms": shown, "days": WEEK_DAYS}


def trend_panel(today: Any) -> dict[str, Any]:
    """Interceptions per day over the last 14 days, a line per action: one query."""
    days = [today - timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    # Grouped by the period's start (at most 24 x 14 x actions rows), put into local days here: a date cast of every
    # row in SQL costs a function call per row on SQLite.
    rows = _counts_since(_local_midnight(days[0])).values("start", "action").annotate(total=Sum("count")).order_by()
    per: dict[tuple[Any, str], int] = {}
    for row in rows:
        key = (timezone.localdate(row["start"]), row["action"])
        per[key] = per.get(key, 0) + row["total"]
    known = {code for code, _label in ACTIONS}
    actions = [(code, label) for code, label in ACTIONS] + sorted(
        {(action, action) for _day, action in per if action not in known}
    )
    series = [(code, str(label), [per.get((day, code), 0) for day in days]) for code, label in actions]
    series = [(code, label, values) for code, label, values in series if any(values)]
    chart = _chart(
        pygal.Line,
        width=760,
        height=230,
        dots_size=2.5,
        show_minor_x_labels=False,
        legend_at_bottom_columns=max(1, len(series)),
    )
    chart.x_labels = [day.strftime("%m-%d") for day in days]
    chart.x_labels_major = chart.x_labels[::2]
    for _code, label, values in series:
        chart.add(label, values)
    total = sum(sum(values) for _code, _label, values in series)
    return {"chart": chart_svg(chart), "total": total, "series": series, "days": TREND_DAYS}


def corrections_panel(today: Any) -> dict[str, Any]:
    """Corrections delivered to the platforms and acknowledged (shown to the user) per day over 7 days: two
    queries, one per timestamp."""
    days = [today - timedelta(days=n) for n in range(WEEK_DAYS - 1, -1, -1)]
    start = _local_midnight(days[0])
    zone = timezone.get_current_timezone()

    def per_day(field: str) -> dict[Any, int]:
        rows = (
            Correction.objects.filter(**{f"{field}__gte": start})
            .annotate(day=TruncDate(field, tzinfo=zone))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return {row["day"]: row["n"] for row in rows}

    sent, acknowledged = per_day("delivered_at"), per_day("acknowledged_at")
    chart = _chart(pygal.Bar, width=380, height=210, legend_at_bottom_columns=2)
    chart.x_labels = [day.strftime("%m-%d") for day in days]
    chart.add(_("sent"), [sent.get(day, 0) for day in days])
    chart.add(_("acknowledged"), [acknowledged.get(day, 0) for day in days])
    return {
        "sent": sum(sent.values()),
        "acknowledged": sum(acknowledged.values()),
        "chart": chart_svg(chart),
        "days": WEEK_DAYS,
        "url": _url("admin:debunk_correction_changelist"),
    }


def spreading_leads(since: datetime, may_draft: bool) -> list[dict[str, Any]]:
    """Open leads with the most reports (then views) received since `since`: one query."""
    rows = (
        RumorReport.objects.filter(received_at__gte=since, content__cluster__status=LeadCluster.Status.OPEN)
        .values(
            "content__cluster_id",
            "content__cluster__text",
            "content__cluster__involves_minor",
            "content__cluster__report_count",
        )
        .annotate(reports=Count("pk"), views=Sum("views"), reposts=Sum("reposts"))
        .order_by("-reports", F("views").desc(nulls_last=True), "content__cluster_id")[:SPREADING]
    )
    return [
        {
            "pk": row["content__cluster_id"],
            "text": _short(row["content__cluster__text"], 80),
            "minor": row["content__cluster__involves_minor"],
            "reports": row["reports"],
            "views": row["views"] or 0,
            "reposts": row["reposts"] or 0,
            "all_reports": row["content__cluster__report_count"],
            "url": _url("admin:debunk_leadcluster_change", row["content__cluster_id"]),
            "draft_url": may_draft and _url("admin:debunk_leadcluster_triage", row["content__cluster_id"], "draft"),
        }
        for row in rows
    ]


def spreading_posts(since: datetime) -> list[dict[str, Any]]:
    """Archived posts that match no rumor (no match, or only rejected ones) with the most exposures received since
    `since`: one query."""
    matched = Match.objects.filter(post_id=OuterRef("post_id")).exclude(status=Match.Status.REJECTED)
    rows = (
        Exposure.objects.filter(at__gte=since, post__archived=True)
        .exclude(Exists(matched))
        .values("post_id", "post__text", "post__platform_post_id", "post__platform__name")
        .annotate(exposures=Count("pk"), users=Count("user_hash", distinct=True))
        .order_by("-exposures", "post_id")[:SPREADING]
    )
    return [
        {
            "pk": row["post_id"],
            "text": _short(row["post__text"], 80),
            "platform": row["post__platform__name"],
            "platform_post_id": row["post__platform_post_id"],
            "exposures": row["exposures"],
            "users": row["users"],
            "url": _url("admin:debunk_post_change", row["post_id"]),
        }
        for row in rows
    ]


def dashboard(request: HttpRequest) -> dict[str, Any]:
    """The panels the account may see, keyed by name (a panel it may not see is absent)."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return {}
    now = timezone.now()
    today = timezone.localdate(now)
    since = now - timedelta(hours=SPREAD_HOURS)
    panels: dict[str, Any] = {}
    if user.has_perm("debunk.view_rumor"):
        panels["review"] = review_panel(now)
    if user.has_perm("debunk.view_leadcluster"):
        panels["leads"] = leads_panel(now)
    if user.has_perm("debunk.view_alert"):
        panels["alerts"] = alerts_panel()
    if user.has_perm("debunk.view_interceptioncount"):
        panels["top"] = top_intercepted_panel(today)
        panels["trend"] = trend_panel(today)
    if user.has_perm("debunk.view_correction"):
        panels["corrections"] = corrections_panel(today)
    spreading: dict[str, Any] = {}
    if user.has_perm("debunk.view_leadcluster"):
        spreading["leads"] = spreading_leads(since, user.has_perm(TRIAGE))
        spreading["draft_verdict"] = DEFAULT_VERDICT
    if user.has_perm("debunk.view_post"):
        spreading["posts"] = spreading_posts(since)
    if spreading:
        panels["spreading"] = {**spreading, "hours": SPREAD_HOURS}
    return panels
