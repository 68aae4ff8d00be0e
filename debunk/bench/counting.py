"""bench_match's counting figures: what counting every match answer (debunk.warning.counting) costs the HTTP batch
path, measured in one run on the same stock and database.

A second gunicorn (the same 2 sync workers, the same throwaway database and index) is started with
WARNING_COUNTING=0 next to the one http_match serves (counting on, as by default); POST /api/v1/match/batch is sent
to each in alternated rounds (on then off, off then on, …: drift and other processes' bursts hit both alike), each
round SECONDS long with THREADS clients; the figures are the medians:

- `counting_on_posts_per_s`, `counting_off_posts_per_s`;
- `counting_cost`: 1 - on / off, the median over rounds of each round's pair (adjacent measurements, so a burst of
  another process that spans a pair cancels out); negative or small: within the noise of the machine;
- `counting_us_per_answer`: what `count_answers` itself takes per answer of a batch of 100 (68 matched, one rumor
  each), in this process (the dict and the lock; no flush: the measured counts are dropped after), the part of the
  cost the noise of the HTTP figures cannot resolve;
- `counting_answers_flushed`: answers the counting server's workers had written to InterceptionCount when the
  rounds ended (the rest was still in their memory, written at their exit): the counting was really on.
"""

import statistics
import subprocess
import sys
from collections.abc import Callable

from django.conf import settings

from debunk.bench import http_match as hm

ROUNDS = 10


def _start(env: dict[str, str], port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "debunk.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(hm.WORKERS),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _flushed(env: dict[str, str]) -> int:
    """Answers counted in the served database (a subprocess with the server's environment)."""
    code = (
        "from django.db.models import Sum; from debunk.warning.models import InterceptionCount as C; "
        "print(C.objects.aggregate(n=Sum('count'))['n'] or 0)"
    )
    out = hm._run([sys.executable, "manage.py", "shell", "-c", code], env, "count query")
    return int(out.strip().splitlines()[-1])


def counting_figures(served: "hm.Served", queries: list[str], say: Callable[[str], None]) -> dict[str, float | int]:
    """See the module docstring; `served` is http_match's server (counting on)."""
    batch = next(e for e in hm._endpoints(queries) if e.name == "batch")
    env = {**served.env, "WARNING_COUNTING": "0"}
    port = hm._free_port()
    log = open(served.tmp / "gunicorn-counting-off.log", "w+b")  # noqa: SIM115 (closed in finally)
    server = _start(env, port, log)
    try:
        hm._wait_ready(server, port, served.headers, log)
        ports = {"on": served.port, "off": port}
        for p in ports.values():
            hm._hammer(p, served.headers, batch, count=hm.WARMUP_REQUESTS["batch"])
        rates: dict[str, list[float]] = {"on": [], "off": []}
        errors = 0
        for round_no in range(ROUNDS):
            for name in ("on", "off") if round_no % 2 == 0 else ("off", "on"):
                tally = hm._hammer(ports[name], served.headers, batch, seconds=hm.SECONDS)
                errors += tally.errors
                rate = tally.ok * batch.posts_per_request / tally.seconds
                rates[name].append(rate)
                say(f"counting: round {round_no + 1}/{ROUNDS} {name}: {rate:.1f} posts/s ({tally.errors} errors)")
    finally:
        hm._stop(server)
        log.close()
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    cost = statistics.median(1 - a / b for a, b in zip(rates["on"], rates["off"], strict=True))
    flushed = _flushed(served.env)
    say(f"counting: on {on:.1f} posts/s, off {off:.1f} posts/s; {flushed} answers already flushed")
    return {
        "counting_on_posts_per_s": round(on, 1),
        "counting_off_posts_per_s": round(off, 1),
        "counting_cost": round(cost, 4),
        "counting_us_per_answer": in_process_us_per_answer(),
        "counting_answers_flushed": flushed,
        "counting_errors": errors,
    }


def in_process_us_per_answer(rounds: int = 2000) -> float:
    """Microseconds `count_answers` takes per answer, on batches of 100 answers of which 68 matched a rumor (as the
    HTTP benchmark's batches), flushes kept away (WARNING_FLUSH_SECONDS very long; the counts are dropped after:
    nothing is written to the developer's database)."""
    import time
    from types import SimpleNamespace

    from django.test import override_settings

    from debunk.warning import counting

    requests = [SimpleNamespace(ocr_text=None) for _ in range(100)]
    decisions = [
        [SimpleNamespace(rumor=SimpleNamespace(pk=1 + (k * 37) % 500), action="block", via="text")] if k < 68 else []
        for k in range(100)
    ]
    with override_settings(WARNING_COUNTING=True, WARNING_FLUSH_SECONDS=1e12):
        counting.reset()
        try:
            started = time.perf_counter()
            for _ in range(rounds):
                counting.count_answers(platform_id=1, requests=requests, decisions=decisions)
            seconds = time.perf_counter() - started
        finally:
            counting.reset()
    return round(seconds / (rounds * len(requests)) * 1e6, 3)
