"""Read-only queries on the interception counts (debunk.warning.counting writes them).

A row counts in a window when its start is in it: hour rows by their hour, day rows (hours rolled up after
WARNING_HOURLY_DAYS) by their UTC midnight. The counts still in the serving processes' memory (at most
WARNING_FLUSH_SECONDS of answers each) are not seen."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from debunk.api.models import Platform
from debunk.stock.models import Rumor
from debunk.warning.counting import hour_start
from debunk.warning.models import InterceptionCount

HOUR = timedelta(hours=1)


def _window(since: datetime, until: datetime | None, platform: Platform | int | None) -> QuerySet[InterceptionCount]:
    rows = InterceptionCount.objects.filter(start__gte=since)
    if until is not None:
        rows = rows.filter(start__lt=until)
    if platform is not None:
        rows = rows.filter(platform_id=platform.pk if isinstance(platform, Platform) else platform)
    return rows.order_by()


def interception_totals(
    *,
    since: datetime,
    until: datetime | None = None,
    platform: Platform | int | None = None,
    actions: Iterable[str] | None = None,
) -> dict[int, int]:
    """Answers per rumor id (every action, or only `actions`) from `since` to `until` (now when None), of every
    platform or of one; rumors without any are left out."""
    rows = _window(since, until, platform)
    if actions is not None:
        rows = rows.filter(action__in=list(actions))
    return dict(rows.values_list("rumor_id").annotate(n=Sum("count")).values_list("rumor_id", "n"))


def top_intercepted(*, days: int = 7, limit: int = 10) -> dict[Platform, list[tuple[Rumor, int]]]:
    """Per platform (by name), its `limit` most intercepted rumors of the last `days` days with their counts, most
    first (every action: what its users were told about)."""
    since = timezone.now() - timedelta(days=days)
    sums = (
        _window(since, None, None)
        .values_list("platform_id", "rumor_id")
        .annotate(n=Sum("count"))
        .values_list("platform_id", "rumor_id", "n")
    )
    per_platform: dict[int, list[tuple[int, int]]] = {}
    for platform_id, rumor_id, n in sums:
        per_platform.setdefault(platform_id, []).append((rumor_id, n))
    tops = {pid: sorted(found, key=lambda item: (-item[1], item[0]))[:limit] for pid, found in per_platform.items()}
    rumors = Rumor.objects.select_related("verdict").in_bulk({rid for found in tops.values() for rid, _ in found})
    platforms = Platform.objects.in_bulk(list(tops))
    return {
        platforms[pid]: [(rumors[rid], n) for rid, n in tops[pid] if rid in rumors]
        for pid in sorted(tops, key=lambda pid: (platforms[pid].name, pid))
    }


def hourly_counts(rumor_ids: Iterable[int], *, since: datetime, until: datetime) -> dict[int, list[int]]:
    """Per rumor id, its answers (every platform and action) in each hour from the hour holding `since` up to the
    one holding the instant before `until` (`until` on an hour boundary ends the series there; a series of n hours
    for `until - since` = n hours on boundaries). Hour rows only: day rows spread nothing over their hours, and only
    recent hours matter for alerts. Every rumor asked for gets a series (zeros without counts)."""
    ids = sorted(set(rumor_ids))
    first = hour_start(since)
    hours = max(0, -(-int((until - first).total_seconds()) // 3600))  # ceil
    series = {rid: [0] * hours for rid in ids}
    if not ids or not hours:
        return series
    rows = (
        InterceptionCount.objects.filter(
            period=InterceptionCount.Period.HOUR, rumor_id__in=ids, start__gte=first, start__lt=until
        )
        .order_by()
        .values_list("rumor_id", "start")
        .annotate(n=Sum("count"))
        .values_list("rumor_id", "start", "n")
    )
    for rumor_id, start, n in rows:
        position = int((start - first) / HOUR)
        if 0 <= position < hours:
            series[rumor_id][position] += n
    return series


def daily_counts(*, days: int = 14, platform: Platform | int | None = None) -> list[tuple[datetime, dict[str, int]]]:
    """Answers per UTC day (oldest first, today included: `days` days) and per action, hour and day rows summed."""
    today = hour_start(timezone.now()).replace(hour=0)
    first = today - timedelta(days=days - 1)
    out = [(first + timedelta(days=k), {}) for k in range(days)]
    sums = _window(first, None, platform).values_list("start", "action").annotate(n=Sum("count"))
    for start, action, n in sums.values_list("start", "action", "n"):
        position = (hour_start(start).replace(hour=0) - first).days
        if 0 <= position < days:
            out[position][1][action] = out[position][1].get(action, 0) + n
    return out
