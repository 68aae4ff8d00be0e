"""Match latency while rumors are imported and published: the slowest match request during `import_rumors
--publish` of a few thousand rumors, beside the same run's latency with no import running.

The stock is served by gunicorn (2 sync workers, MATCH_INDEX_POLL_SECONDS at its default of 1 s) from a
throwaway database (debunk.bench.http_match.serve: SQLite, or PostgreSQL + Redis); the match requests go over
HTTP to 127.0.0.1 from CLIENTS closed-loop client threads, each timed from send to answer. The import runs as
`manage.py import_rumors FILE --publish --skip-invalid` in a subprocess against the same database: with
--skip-invalid every rumor is its own transaction, so its changes reach the index as the import proceeds (and
SQLite's single writer lock is taken per rumor, not for the whole import).

The imported texts are read from ../shared/datasets when present (never copied into the repository), else
synthetic; the JSONL is written to the run's temporary directory and removed with it.
"""

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings

from debunk.bench import matching as benchmark
from debunk.bench.http_match import MATCH, Tally, _request, serve

CLIENTS = 2
FRESHNESS_SECONDS = 5.0


def import_lines(texts: list[str]) -> list[str]:
    return [
        json.dumps(
            {
                "claim": text,
                "verdict": "false",
                "category": "other",
                "external_id": f"bench-import-{i}",
                "debunk_title": f"基准导入辟谣 {i}",
                "debunk_body": "基准测试导入的辟谣正文：经核实，该说法不实。",
            },
            ensure_ascii=False,
        )
        for i, text in enumerate(texts)
    ]


def _percentiles(prefix: str, latencies: list[float]) -> dict[str, float | int]:
    values = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {
        f"{prefix}_requests": len(latencies),
        f"{prefix}_p50_ms": round(float(np.percentile(values, 50)), 1),
        f"{prefix}_p99_ms": round(float(np.percentile(values, 99)), 1),
        f"{prefix}_max_ms": round(float(values.max()), 1),
    }


def _clients(port: int, headers: dict[str, str], bodies: list[bytes], until: Callable[[], bool]):
    """CLIENTS threads sending match requests one at a time until `until()`; returns (latencies, tally)."""
    latencies: list[float] = []
    tally = Tally()
    guard = threading.Lock()

    def client(slot: int) -> None:
        position = slot * len(bodies) // CLIENTS
        while not until():
            body = bodies[position % len(bodies)]
            position += 1
            started = time.perf_counter()
            try:
                status, answer = _request(port, "POST", MATCH, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                with guard:
                    tally.error(type(exc).__name__, repr(exc))
                continue
            elapsed = time.perf_counter() - started
            with guard:
                if status == 200:
                    tally.ok += 1
                    latencies.append(elapsed)
                else:
                    tally.error(str(status), f"{status}: {answer[:200]!r}")

    threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, tally


def import_latency_figures(
    *,
    stock_size: int,
    imports: int,
    datasets: Path,
    backend: str,
    baseline_seconds: float,
    say: Callable[[str], None],
) -> dict:
    corpus = benchmark.Corpus()
    started = time.perf_counter()
    stock = benchmark.prepare(corpus.posts(stock_size))
    real = benchmark.real_texts(datasets)[:imports]
    imported = real + corpus.posts(imports - len(real), low=60, high=200)
    queries = benchmark.make_queries(corpus, stock, 500)
    bodies = [json.dumps({"text": q}, ensure_ascii=False).encode() for q in queries]
    say(
        f"stock of {stock_size} synthetic rumors fingerprinted; {len(real)} real + {len(imported) - len(real)} "
        f"synthetic texts to import ({time.perf_counter() - started:.1f} s)"
    )
    figures: dict[str, float | int | str] = {"backend": backend, "stock_rumors": stock_size}
    with serve(stock, say, backend=backend, poll_seconds=settings.MATCH_INDEX_POLL_SECONDS) as served:
        port, headers = served.port, served.headers
        source = served.tmp / "import.jsonl"
        source.write_text("\n".join(import_lines(imported)) + "\n", encoding="utf-8")
        warm, _ = _clients(port, headers, bodies, until=_after(3.0))
        say(f"warm-up: {len(warm)} match requests")

        baseline, base_tally = _clients(port, headers, bodies, until=_after(baseline_seconds))
        figures.update(_percentiles("baseline", baseline))
        say(f"baseline: {len(baseline)} match requests in {baseline_seconds:.0f} s, {base_tally.errors} errors")

        started = time.perf_counter()
        log = open(served.tmp / "import.log", "w+")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "import_rumors", str(source), "--publish", "--skip-invalid"],
            cwd=settings.BASE_DIR,
            env=served.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        during, tally = _clients(port, headers, bodies, until=lambda: process.poll() is not None)
        import_seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read()
        log.close()
        if process.returncode != 0:
            raise RuntimeError(f"import_rumors failed ({process.returncode}):\n{output[-3000:]}")
        summary = next((line for line in output.splitlines() if line.startswith("Imported")), "")
        say(f"import: {summary} ({import_seconds:.1f} s); {len(during)} match requests meanwhile")
        figures.update(_percentiles("import", during))
        figures["import_seconds"] = round(import_seconds, 1)
        figures["import_summary"] = summary
        figures["errors"] = base_tally.errors + tally.errors
        if tally.errors:
            say(f"errors during the import: {dict(tally.problems)} {tally.samples}")

        # The last imported rumors are matched within the freshness guarantee.
        probe = json.dumps({"text": imported[-1]}, ensure_ascii=False).encode()
        started = time.perf_counter()
        matched = False
        while not matched and time.perf_counter() - started < FRESHNESS_SECONDS * 2:
            status, answer = _request(port, "POST", MATCH, probe, headers)
            matched = status == 200 and json.loads(answer).get("matched") is True
            if not matched:
                time.sleep(0.1)
        figures["last_import_matched_after_s"] = round(time.perf_counter() - started, 2) if matched else "never"
    return figures


def _after(seconds: float) -> Callable[[], bool]:
    deadline = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= deadline
