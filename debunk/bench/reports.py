"""The reports benchmark (`manage.py bench_reports`).

HTTP: POST /api/v1/reports served by gunicorn (2 sync workers) against a throwaway database holding a stock of
published rumors, so every report is matched on arrival, with GET /api/v1/ping as the floor, measured in
interleaved rounds of the same run (the harness of the match benchmark, `debunk.bench.http_match`):
- `http_floor_req_per_s`: pings per second;
- `http_single_reports_per_s`: one report per request; `single_vs_floor` their ratio (the target: ≥ 0.5);
- `http_batch_reports_per_s`: BATCH reports per request; `batch_vs_floor` reports per second over pings per second.
Every report has a new `external_id` (a resubmission would only be looked up). The mix of contents is the same in
every round: STOCK_SHARE of the reports copy a stock rumor (linked on arrival), FRESH_SHARE carry a content never
seen before (matched, fingerprinted, placed in a lead), the rest repeat one of POOL contents (folded).

Folding: `reports_submit` in-process on another throwaway database, FOLD_REPORTS reports of FOLD_DISTINCT distinct
contents in batches of BATCH: seconds, reports per second, and whether folding was exact (as many leads and
contents as distinct contents, every report counted once).
"""

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from debunk.bench import http_match as hm
from debunk.bench import matching as bm

BATCH = 100
STOCK_SHARE = 0.1  # reports whose text is a stock rumor's
FRESH_SHARE = 0.3  # reports of a content never reported before
POOL = 500  # contents the other reports repeat
WARMUP_ROUNDS = 3  # rounds of the three measurements before the measured ones
SINGLE_BODIES = 20_000
BATCH_BODIES = 700


def _contents(corpus: bm.Corpus, count: int) -> list[str]:
    return corpus.posts(count, 60, 200)


def _bodies(
    stock_texts: list[str], pool: list[str], corpus: bm.Corpus, *, single: int, batch: int, seed: int = 7
) -> tuple[list, list]:
    rng = random.Random(seed)
    counter = iter(range(10**9))

    def item() -> dict[str, Any]:
        draw = rng.random()
        if draw < STOCK_SHARE:
            text = rng.choice(stock_texts)
        elif draw < STOCK_SHARE + FRESH_SHARE:
            text = corpus.post(rng.randint(60, 200))
        else:
            text = rng.choice(pool)
        n = next(counter)
        return {
            "external_id": f"bench-{n}",
            "category": "other",
            "text": text,
            "reporter": f"user-{n % 5000}",
            "reposts": n % 50,
            "views": n % 5000,
        }

    def encode(items: list[dict]) -> bytes:
        return json.dumps({"items": items}, ensure_ascii=False).encode("utf-8")

    singles = [encode([item()]) for _ in range(single)]
    batches = [encode([item() for _ in range(BATCH)]) for _ in range(batch)]
    return singles, batches


def http_figures(*, rumors: int, rounds: int, seconds: float, say: Callable[[str], None]) -> dict[str, Any]:
    corpus = bm.Corpus()
    stock = bm.prepare(corpus.posts(rumors))
    pool = _contents(corpus, POOL)
    singles, batches = _bodies(stock.texts, pool, corpus, single=SINGLE_BODIES, batch=BATCH_BODIES)
    with hm.serve(stock, say) as served:
        port, headers = served.port, served.headers
        status, answer = hm._request(port, "POST", "/api/v1/reports", batches[0], headers)
        results = json.loads(answer).get("results", []) if status == 200 else []
        if status != 200 or len(results) != BATCH or any("error" in r for r in results):
            raise RuntimeError(f"POST /api/v1/reports answered {status}: {answer[:500]!r}")
        linked = sum(1 for r in results if r.get("rumor_id"))
        say(f"reports: check passed, {linked} of {BATCH} reports linked to a stock rumor on arrival")
        endpoints = [
            hm.Endpoint("floor", "GET", hm.PING, [None], 1),
            hm.Endpoint("single", "POST", "/api/v1/reports", singles[1:], 1),
            hm.Endpoint("batch", "POST", "/api/v1/reports", batches[1:], BATCH),
        ]
        errors = hm.Tally()
        sent = {e.name: 0 for e in endpoints}
        # Warm-up: the answers get faster over the first minute of load (measured: single reports from 89/s in the
        # first round to 250/s by the sixth, then about flat); the cause is not pinned down (the repeated contents
        # getting stored explains only part of it). The median of the measured rounds is reported.
        for _ in range(WARMUP_ROUNDS):
            for endpoint in endpoints:
                tally = hm._hammer(port, headers, endpoint, seconds=seconds)
                errors.add(tally)
                sent[endpoint.name] += tally.ok + tally.errors
        say(f"reports: warmed up ({WARMUP_ROUNDS} rounds)")
        rates: dict[str, list[float]] = {e.name: [] for e in endpoints}
        for round_no in range(1, rounds + 1):
            for endpoint in endpoints:
                tally = hm._hammer(port, headers, endpoint, seconds=seconds)
                errors.add(tally)
                sent[endpoint.name] += tally.ok + tally.errors
                rate = tally.ok / tally.seconds * endpoint.posts_per_request
                rates[endpoint.name].append(rate)
                say(f"reports: round {round_no}/{rounds} {endpoint.name}: {rate:.1f}/s")
        if errors.errors:
            say(f"reports: {errors.errors} failed requests: {dict(errors.problems)} {errors.samples[:2]}")
    floor, single, batch = (statistics.median(rates[name]) for name in ("floor", "single", "batch"))
    return {
        "stock_rumors": rumors,
        "mix_stock_fresh_repeated": f"{STOCK_SHARE:.0%}/{FRESH_SHARE:.0%}/{1 - STOCK_SHARE - FRESH_SHARE:.0%}",
        "http_floor_req_per_s": round(floor, 1),
        "http_single_reports_per_s": round(single, 1),
        "http_batch_reports_per_s": round(batch, 1),
        "single_vs_floor": round(single / floor, 3) if floor else None,
        "batch_vs_floor": round(batch / floor, 3) if floor else None,
        "target_vs_floor": 0.5,
        "bodies_reused": any(sent[e.name] > len(e.bodies) for e in endpoints if e.name != "floor"),
        "http_errors": errors.errors,
    }


def fold_figures(*, reports: int, distinct: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the folding measurement in a subprocess against a throwaway SQLite database."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="debunk-reports-bench-"))
    try:
        env = hm._environment(tmp)
        hm._run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
        say(f"fold: throwaway database migrated; submitting {reports:,} reports of {distinct:,} contents")
        out = hm._run(
            [sys.executable, "manage.py", "bench_reports", "--fold-run", str(reports), str(distinct), "--json"],
            env,
            "fold run",
        )
        return json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fold_run(*, reports: int, distinct: int, say: Callable[[str], None]) -> dict[str, Any]:
    """In the throwaway database: submit the reports through the service and count what folded."""
    from django.db.models import Sum

    from debunk.api.models import Platform
    from debunk.reports.intake import ReportItem, reports_submit
    from debunk.reports.models import LeadCluster, ReportContent, RumorReport
    from labels.models import Category

    corpus = bm.Corpus(seed=11)
    texts = _contents(corpus, distinct)
    category = Category.objects.get(code="other")
    platform, _ = Platform.objects.get_or_create(code="benchmark", defaults={"name": "Benchmark"})
    rng = random.Random(3)
    # every content at least once, the rest drawn at random
    order = list(range(distinct)) + [rng.randrange(distinct) for _ in range(reports - distinct)]
    rng.shuffle(order)
    started = time.perf_counter()
    for start in range(0, reports, BATCH):
        items = [
            ReportItem(category, text=texts[k], external_id=f"fold-{start + j}")
            for j, k in enumerate(order[start : start + BATCH])
        ]
        reports_submit(items, platform=platform)
        if (start // BATCH) % 100 == 0:
            say(f"fold: {start + len(items):,} reports, {time.perf_counter() - started:.1f} s")
    seconds = time.perf_counter() - started
    clusters, contents = LeadCluster.objects.count(), ReportContent.objects.count()
    counted = LeadCluster.objects.aggregate(n=Sum("report_count"))["n"]
    return {
        "fold_reports": reports,
        "fold_distinct_contents": distinct,
        "fold_seconds": round(seconds, 1),
        "fold_reports_per_s": round(reports / seconds, 1),
        "fold_leads_formed": clusters,
        "fold_contents_stored": contents,
        "fold_reports_stored": RumorReport.objects.count(),
        "fold_exact": clusters == distinct and contents == distinct and counted == reports,
    }
