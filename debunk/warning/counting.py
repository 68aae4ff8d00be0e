"""Interception counts: every match answer given to a platform, counted per rumor, platform, action and hour.

What counts: each rumor in an answer of `match_many` to a platform (POST /api/v1/match, /match/batch, and a match
job's complete answer), with the decision's action (`block`, `label`, `allow`, or `review` for a suspected match),
automatic blocks and labels included. Nothing of the post (text, id) is kept. A match job's answer completes a
`pending` one that was already counted: it counts only what the text read in the image found (`via` ocr).

How (one design, chosen for several gunicorn workers on several machines; docs/architecture.md): each process
adds to a dict in memory, guarded by a lock (a few dict updates per answer, after the answer is built), and adds
it to `InterceptionCount` rows with one additive upsert (`INSERT … ON CONFLICT … DO UPDATE SET count = count +
excluded.count`, on SQLite and PostgreSQL alike) when WARNING_FLUSH_SECONDS have passed since its last flush
(checked on each count), after each Celery task that counted (tasks.py), and at exit (atexit). Processes never
coordinate: the database adds their increments. A flush that fails (database down, table locked) puts its counts
back for the next try and never fails an answer. What can be lost: the counts a process held when it was killed
without running its exit handlers (SIGKILL, OOM), at most WARNING_FLUSH_SECONDS of its answers (more if the
database was unreachable meanwhile). An idle process keeps what it counted until its next count or its exit.

Counts made inside a transaction are added when it commits (`transaction.on_commit`: a match job whose run is
rolled back counts nothing), and a flush never runs inside a caller's transaction by itself (`flush_due`): a
rollback would take the flushed counts with it.
"""

import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from debunk.warning.models import InterceptionCount

if TYPE_CHECKING:
    from debunk.matching.decisions import Decision

logger = logging.getLogger("debunk.warning")

Key = tuple[int, int, str, datetime]  # rumor id, platform id, action, hour start (UTC)

_lock = threading.Lock()
_pending: dict[Key, int] = {}
_pending_db: list[Any] = [None]  # the database the pending counts were counted against (its NAME)
_last_flush = [time.monotonic()]
_CHUNK = 150  # rows a statement (6 parameters each)


def hour_start(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """UTC midnight of the day holding `moment`."""
    return hour_start(moment).replace(hour=0)


def count_answers(
    *, platform_id: int | None, requests: Sequence[Any], decisions: Sequence[Sequence["Decision"]]
) -> None:
    """Count the answers just built for a platform's requests (one decision list per request, as the answers
    carry them). Nothing without a platform (an evaluation, an internal call) or with WARNING_COUNTING off."""
    if platform_id is None or not settings.WARNING_COUNTING:
        return
    hour: datetime | None = None
    counts: dict[Key, int] = {}
    for request, found in zip(requests, decisions, strict=True):
        if not found:
            continue
        completing = getattr(request, "ocr_text", None) is not None  # a match job's answer: see the docstring
        for decision in found:
            if completing and decision.via != "ocr":
                continue
            if hour is None:
                hour = hour_start(timezone.now())
            key = (decision.rumor.pk, platform_id, decision.action, hour)
            counts[key] = counts.get(key, 0) + 1
    if counts:
        if connection.in_atomic_block:
            transaction.on_commit(partial(add, counts))
        else:
            add(counts)


def add(counts: dict[Key, int]) -> None:
    """Add counts to this process's pending ones; flush them if WARNING_FLUSH_SECONDS have passed."""
    database = connection.settings_dict.get("NAME")
    with _lock:
        if _pending_db[0] != database:
            if _pending:  # counted against another database (a test run's, now gone): they belong to no row here
                logger.warning("interception counts of database %r dropped: %d keys", _pending_db[0], len(_pending))
                _pending.clear()
            _pending_db[0] = database
        for key, n in counts.items():
            _pending[key] = _pending.get(key, 0) + n
    flush_due()


def flush_due() -> int:
    """Flush if WARNING_FLUSH_SECONDS have passed since the last flush and no transaction is open; the counts
    written (0 when not due or nothing pending)."""
    if time.monotonic() - _last_flush[0] < settings.WARNING_FLUSH_SECONDS or connection.in_atomic_block:
        return 0
    return flush()


def pending() -> dict[Key, int]:
    """A copy of this process's counts not yet written."""
    with _lock:
        return dict(_pending)


def reset() -> None:
    """Forget the pending counts (tests)."""
    with _lock:
        _pending.clear()
        _pending_db[0] = None
        _last_flush[0] = time.monotonic()


def flush() -> int:
    """Write this process's pending counts (one additive upsert, in a transaction or savepoint of its own) and
    return how many answers' counts were written. On any failure they are put back for the next flush, the error
    is logged, and 0 is returned: a flush never raises."""
    with _lock:
        if not _pending:
            _last_flush[0] = time.monotonic()
            return 0
        if _pending_db[0] != connection.settings_dict.get("NAME"):
            logger.warning("interception counts of database %r dropped: %d keys", _pending_db[0], len(_pending))
            _pending.clear()
            return 0
        taken = dict(_pending)
        _pending.clear()
        _last_flush[0] = time.monotonic()
    try:
        with transaction.atomic():
            written = _upsert(_existing(taken), period=InterceptionCount.Period.HOUR)
    except Exception:
        logger.exception("interception counts: flush of %d keys failed; kept for the next try", len(taken))
        with _lock:
            for key, n in taken.items():
                _pending[key] = _pending.get(key, 0) + n
        return 0
    return written


def _existing(counts: dict[Key, int]) -> dict[Key, int]:
    """The counts whose rumor and platform still exist (one deleted since the answer: its counts go with it)."""
    from debunk.api.models import Platform
    from debunk.stock.models import Rumor

    rumors = set(Rumor.objects.filter(pk__in={k[0] for k in counts}).values_list("pk", flat=True))
    platforms = set(Platform.objects.filter(pk__in={k[1] for k in counts}).values_list("pk", flat=True))
    return {k: n for k, n in counts.items() if k[0] in rumors and k[1] in platforms}


def _upsert(counts: dict[Key, int], *, period: str) -> int:
    """Add each count to its row (created at 0 when missing): INSERT … ON CONFLICT (the columns of
    `interception_count_unique`) DO UPDATE SET count = count + excluded.count, which SQLite (3.24+) and
    PostgreSQL both run. bulk_create(update_conflicts=True) would overwrite the count, not add to it."""
    if not counts:
        return 0
    ops, qn = connection.ops, connection.ops.quote_name
    table = qn(InterceptionCount._meta.db_table)
    names = ["rumor", "platform", "action", "period", "start", "count"]
    columns = [qn(InterceptionCount._meta.get_field(name).column) for name in names]
    count = columns[-1]
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(columns[:5])}) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}"
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    rows = [
        (rumor_id, platform_id, action, period, ops.adapt_datetimefield_value(start), n)
        for (rumor_id, platform_id, action, start), n in sorted(counts.items())
    ]  # a fixed order: two flushes of the same keys lock their rows in the same order (no deadlock)
    with connection.cursor() as cursor:
        for first in range(0, len(rows), _CHUNK):
            chunk = rows[first : first + _CHUNK]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, [v for row in chunk for v in row])
    return sum(counts.values())


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # flush logs and keeps; nothing may escape an exit handler
        flush()


atexit.register(_flush_at_exit)


# --- roll-ups and retention (the hourly beat) ------------------------------------------------------------------


def rollup(*, now: datetime | None = None) -> dict[str, int]:
    """Hour rows older than WARNING_HOURLY_DAYS summed into day rows (start: UTC midnight) and deleted, one
    transaction per day; day rows older than WARNING_DAILY_DAYS deleted. Idempotent: a second run finds nothing
    to do (a day row gets added to when a later run rolls up more hours of its day). Returns the days rolled up,
    hour rows folded and day rows deleted."""
    now = now or timezone.now()
    cutoff = hour_start(now) - timedelta(days=settings.WARNING_HOURLY_DAYS)
    hours = InterceptionCount.objects.filter(period=InterceptionCount.Period.HOUR, start__lt=cutoff)
    days = folded = 0
    while (first := hours.order_by("start").values_list("start", flat=True).first()) is not None:
        day = day_start(first)
        with transaction.atomic():
            rows = hours.filter(start__gte=day, start__lt=min(day + timedelta(days=1), cutoff))
            sums = rows.values_list("rumor_id", "platform_id", "action").annotate(n=Sum("count")).order_by()
            _upsert({(r, p, a, day): n for r, p, a, n in sums}, period=InterceptionCount.Period.DAY)
            folded += rows.delete()[0]
        days += 1
    old_days = InterceptionCount.objects.filter(
        period=InterceptionCount.Period.DAY, start__lt=day_start(now) - timedelta(days=settings.WARNING_DAILY_DAYS)
    )
    deleted = old_days.delete()[0]
    return {"days_rolled_up": days, "hour_rows_folded": folded, "day_rows_deleted": deleted}
