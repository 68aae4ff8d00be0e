"""The match benchmark's HTTP figures: the API served by gunicorn (2 sync workers) on 127.0.0.1, measured in one run.

- `http_floor_req_per_s`: GET /api/v1/ping, a trivial authenticated DRF JSON endpoint (the HTTP floor);
- `http_single_posts_per_s`: POST /api/v1/match, one post per request;
- `http_batch_posts_per_s`: POST /api/v1/match/batch, BATCH_SIZE posts per request;
- `http_single_p99_ms_at_80pct` / `http_batch_p99_ms_at_80pct`: p99 latency of requests sent on a fixed schedule
  (open loop) at 80% of the maximum rate measured just before (`*_80pct_req_per_s`);
- `http_single_vs_floor` and `http_batch_vs_single`, the ratios, which hold on a noisy machine because the
  three endpoints are measured in interleaved rounds (floor, single, batch, floor, …) and each figure is the
  median of its rounds.

The server runs against a throwaway SQLite database (or, `backend="postgres"`, PostgreSQL + Redis started by
.ci/services.sh as `make stack` starts them, on free ports) and match index in a temporary directory (removed at the
end, as is the server stopped, also on errors), so the developer's database, index and cache are never touched.
The stock is loaded by debunk.bench.http_match_server in a subprocess, which also builds the index snapshot
once, so both workers memory-map the same files.
"""

import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from debunk.bench import matching as benchmark

SECONDS = 4.0  # each measurement
# Interleaved rounds of the three measurements; each figure is the median of its rounds, so a round hit by
# another process's burst is ignored (short rounds, many alternations: drift hits the endpoints alike).
ROUNDS = 5
THREADS = 4  # client threads: keep both workers busy
WORKERS = 2
BATCH_SIZE = 100
WARMUP_REQUESTS = {"floor": 200, "single": 300, "batch": 8}
# DEBUG off as in production (DEBUG on records every SQL query, which would inflate the match endpoints).
SERVER_DEBUG = False
RATE = "100000000/min"  # throttling must never answer 429 here
REQUEST_TIMEOUT = 120.0
START_TIMEOUT = 120.0
LOAD_SHARE = 0.8  # the steady load of the latency measurement, as a share of the measured maximum rate
PACED_SECONDS = 8.0
PACED_THREADS = 12  # enough clients that the schedule holds while a few requests wait
PING, MATCH, BATCH = "/api/v1/ping", "/api/v1/match", "/api/v1/match/batch"


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    bodies: list[bytes | None]
    posts_per_request: int


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    problems: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.ok += other.ok
        self.errors += other.errors
        self.problems.update(other.problems)
        self.samples.extend(other.samples[: max(0, 5 - len(self.samples))])

    def error(self, problem: str, sample: str) -> None:
        self.errors += 1
        self.problems[problem] += 1
        if len(self.samples) < 5:
            self.samples.append(sample[:300])


@dataclass
class Served:
    """The stock served by gunicorn: where, with which key, at which index version, in which environment."""

    port: int
    headers: dict[str, str]
    version: int
    env: dict[str, str]
    tmp: Path
    server: subprocess.Popen
    log: Any


BACKENDS = ("sqlite", "postgres")


@contextmanager
def serve(
    stock: benchmark.Prepared,
    say: Callable[[str], None],
    *,
    backend: str = "sqlite",
    poll_seconds: float = 3600,
    images: list[dict] | None = None,
    claims: bool = True,
) -> Iterator[Served]:
    """Load the stock into a throwaway database (SQLite, or PostgreSQL + Redis started as .ci/services.sh starts
    them for `make stack`) and serve it with gunicorn on 127.0.0.1; everything is stopped and removed at the end,
    also on errors. `images`: rumor images to store with their fingerprints (see http_match_server)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: one of {', '.join(BACKENDS)}")
    tmp = Path(tempfile.mkdtemp(prefix="debunk-http-bench-"))
    server: subprocess.Popen | None = None
    server_log = None
    services = tmp / "services"
    try:
        env = _environment(tmp)
        env["MATCH_INDEX_POLL_SECONDS"] = str(poll_seconds)
        env["CLAIM_MATCHING"] = "1" if claims else "0"
        if backend == "postgres":
            started = time.perf_counter()
            env.update(_start_services(services, env))
            say(f"http: PostgreSQL and Redis started in {services} ({time.perf_counter() - started:.1f} s)")
        started = time.perf_counter()
        _run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
        say(f"http: throwaway {backend} database migrated ({time.perf_counter() - started:.1f} s)")

        started = time.perf_counter()
        _write_stock(tmp, stock)
        if images:
            (tmp / "images.json").write_text(json.dumps(images), encoding="utf-8")
        loaded = json.loads(
            _run([sys.executable, "-m", "debunk.bench.http_match_server", str(tmp)], env, "stock load")
            .strip()
            .splitlines()[-1]
        )
        key, version = loaded["key"], loaded["version"]
        if images:
            say(f"http: {loaded.get('images', 0)} rumor images stored with their fingerprints")
        say(
            f"http: {loaded['fingerprints']} fingerprints loaded ({loaded['load_seconds']} s) and snapshot "
            f"v{version} built ({loaded['snapshot_seconds']} s), {time.perf_counter() - started:.1f} s in all"
        )

        port = _free_port()
        server_log = open(tmp / "gunicorn.log", "w+b")  # noqa: SIM115 (closed in finally)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "debunk.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--log-level",
                "warning",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its workers can be stopped with it
        )
        headers = {
            "Authorization": f"Api-Key {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Connection": "close",  # gunicorn's sync workers close every connection anyway
        }
        started = time.perf_counter()
        _wait_ready(server, port, headers, server_log)
        say(f"http: gunicorn on 127.0.0.1:{port}, {WORKERS} sync workers ({time.perf_counter() - started:.1f} s)")
        yield Served(port, headers, version, env, tmp, server, server_log)
    finally:
        if server is not None:
            _stop(server)
        if server_log is not None:
            server_log.close()
        if backend == "postgres":
            subprocess.run(
                ["bash", str(Path(settings.BASE_DIR) / ".ci" / "services.sh"), "stop", str(services)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(tmp, ignore_errors=True)


def _start_services(directory: Path, env: dict[str, str]) -> dict[str, str]:
    """PostgreSQL and Redis on free loopback ports (.ci/services.sh); their DATABASE_URL, REDIS_URL, broker URL."""
    ports = {"PGPORT": str(_free_port()), "REDIS_PORT": str(_free_port())}
    done = subprocess.run(
        ["bash", str(Path(settings.BASE_DIR) / ".ci" / "services.sh"), "start", str(directory)],
        env={**env, **ports},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"http benchmark: .ci/services.sh start failed:\n{done.stderr[-3000:]}")
    found = dict(re.findall(r"^export (\w+)=(\S+)$", (directory / "env").read_text(), flags=re.M))
    return {name: found[name].strip("'\"") for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}


def http_figures(
    stock: benchmark.Prepared,
    queries: list[str],
    say: Callable[[str], None],
    *,
    backend: str = "sqlite",
    claims: bool = True,
    counting: bool = True,
) -> dict:
    """Serve the stock with gunicorn and measure the three endpoints; see the module docstring. `claims`: the claim
    tier on (CLAIM_MATCHING, as by default) or off in the server. `counting`: also the cost of the interception
    counts (debunk.bench.counting), on the same server against a second one with counting off."""
    if not queries:
        raise ValueError("the HTTP benchmark needs queries")
    with serve(stock, say, backend=backend, claims=claims) as served:
        port, headers, version, server = served.port, served.headers, served.version, served.server
        endpoints = _endpoints(queries)
        errors = Tally()
        matched = _check(port, headers, endpoints, version)
        say(f"http: check passed, {matched} of {BATCH_SIZE} posts of a batch matched at index v{version}")
        for endpoint in endpoints:
            tally = _hammer(port, headers, endpoint, count=WARMUP_REQUESTS[endpoint.name])
            errors.add(tally)
            say(f"http: warm-up {endpoint.name}: {tally.ok} requests in {tally.seconds:.1f} s, {tally.errors} errors")

        rates: dict[str, list[float]] = {e.name: [] for e in endpoints}
        for round_no in range(1, ROUNDS + 1):
            for endpoint in endpoints:
                client_cpu, server_cpu = time.process_time(), _workers_cpu(server.pid)
                tally = _hammer(port, headers, endpoint, seconds=SECONDS)
                client_cpu = time.process_time() - client_cpu
                server_cpu = _workers_cpu(server.pid) - server_cpu
                errors.add(tally)
                rate = tally.ok * endpoint.posts_per_request / tally.seconds
                rates[endpoint.name].append(rate)
                unit = "req/s" if endpoint.name == "floor" else "posts/s"
                say(
                    f"http: round {round_no}/{ROUNDS} {endpoint.name}: {rate:.1f} {unit} "
                    f"({tally.ok} requests in {tally.seconds:.1f} s, {tally.errors} errors; workers' CPU "
                    f"{server_cpu * 1000 / max(tally.ok, 1):.2f} ms a request, client {client_cpu / tally.seconds:.0%} "
                    "of a core)"
                )
        median = {name: statistics.median(values) for name, values in rates.items()}
        if not all(median.values()):
            raise RuntimeError(f"an endpoint answered no request successfully: {median}; {errors.samples}")
        # Latency under a steady load below saturation: requests sent on a fixed schedule at LOAD_SHARE of the
        # maximum, each timed from its scheduled send (a late answer delays no measurement). The maximum is
        # measured again just before (closed loop, SECONDS): on a shared machine the capacity of the rounds above
        # may no longer hold, and a rate above the current capacity would measure a growing queue instead.
        p99: dict[str, float] = {}
        paced_rates: dict[str, float] = {}
        for endpoint in endpoints[1:]:
            probe = _hammer(port, headers, endpoint, seconds=SECONDS)
            errors.add(probe)
            rate = LOAD_SHARE * probe.ok / probe.seconds
            paced_rates[endpoint.name] = rate
            latencies, tally = _paced(port, headers, endpoint, rate=rate, seconds=PACED_SECONDS)
            errors.add(tally)
            p99[endpoint.name] = float(np.percentile(latencies, 99)) * 1000 if latencies else float("nan")
            say(
                f"http: {endpoint.name} at {rate:.1f} req/s ({LOAD_SHARE:.0%} of the maximum): p50 "
                f"{np.percentile(latencies, 50) * 1000:.1f} ms, p99 {p99[endpoint.name]:.1f} ms, "
                f"{tally.ok} requests, {tally.errors} errors"
            )
        if errors.errors:
            say(f"http: {errors.errors} failed requests: {dict(errors.problems)}")
            for sample in errors.samples:
                say(f"http:   {sample}")
            for line in _log_tail(served.log).splitlines()[-20:]:
                say(f"http: gunicorn: {line}")
        counted: dict = {}
        if counting:
            from debunk.bench.counting import counting_figures

            counted = counting_figures(served, queries, say)
        return {
            **counted,
            "http_floor_req_per_s": round(median["floor"], 1),
            "http_single_posts_per_s": round(median["single"], 1),
            "http_batch_posts_per_s": round(median["batch"], 1),
            "http_single_vs_floor": round(median["single"] / median["floor"], 3),
            "http_batch_vs_single": round(median["batch"] / median["single"], 3),
            "http_single_p99_ms_at_80pct": round(p99["single"], 1),
            "http_single_80pct_req_per_s": round(paced_rates["single"], 1),
            "http_batch_p99_ms_at_80pct": round(p99["batch"], 1),
            "http_batch_80pct_req_per_s": round(paced_rates["batch"], 1),
            "http_errors": errors.errors,
            "http_claim_matching": "on" if claims else "off",
        }


def _paced(
    port: int, headers: dict[str, str], endpoint: Endpoint, *, rate: float, seconds: float
) -> tuple[list[float], Tally]:
    """Requests at `rate` per second on a fixed schedule (spread over PACED_THREADS clients) for `seconds`; the
    latency of each runs from its scheduled send time to its answer (open loop: no coordinated omission)."""
    interval = 1.0 / rate
    total = max(1, int(rate * seconds))
    tickets = itertools.count()
    latencies: list[float] = []
    tally = Tally()
    guard = threading.Lock()
    started = time.perf_counter() + 0.05

    def client() -> None:
        while (n := next(tickets)) < total:
            due = started + n * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = endpoint.bodies[n % len(endpoint.bodies)]
            try:
                status, answer = _request(port, endpoint.method, endpoint.path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                with guard:
                    tally.error(type(exc).__name__, f"{endpoint.path}: {exc!r}")
                continue
            elapsed = time.perf_counter() - due
            with guard:
                if status == 200:
                    tally.ok += 1
                    latencies.append(elapsed)
                else:
                    tally.error(str(status), f"{endpoint.path} {status}: {answer[:200]!r}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(PACED_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.seconds = time.perf_counter() - started
    return latencies, tally


def _environment(tmp: Path) -> dict[str, str]:
    """The developer's environment pointed at the throwaway database, index and a per-process cache."""
    (tmp / "static").mkdir(exist_ok=True)  # WhiteNoise (DEBUG off) wants STATIC_ROOT to exist
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)
    # WAL and synchronous=NORMAL: the two workers write a request-log row per request; without them SQLite
    # serialises readers behind writers and fsyncs every commit, and the figures would measure the disk.
    # IMMEDIATE transactions wait for the write lock instead of failing when two workers write at once.
    options = urllib.parse.urlencode(
        {"init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL", "transaction_mode": "IMMEDIATE"}
    )
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "debunk.settings",
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}?{options}",
            "DATABASE_CONN_MAX_AGE": "60",
            "MATCH_INDEX_DIR": str(tmp / "match-index"),
            "MATCH_INDEX_POLL_SECONDS": "3600",
            "DEBUG": "1" if SERVER_DEBUG else "0",
            "SECRET_KEY": secrets.token_urlsafe(50),  # for this server only
            "PSEUDONYM_SECRET": secrets.token_urlsafe(50),  # required with DEBUG off
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "API_THROTTLE_RATE": RATE,
            "API_BATCH_THROTTLE_RATE": RATE,
            # No shared services: the cache is each worker's own memory, tasks run eagerly, no search engine.
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "ELASTICSEARCH_URL": "",
            "MEDIA_ROOT": str(tmp / "media"),
            "WARNING_COUNTING": "1",  # as by default (bench_match's counting figures start a second server without)
            "STATIC_ROOT": str(tmp / "static"),
        }
    )
    return env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(
        command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"http benchmark: {what} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    return done.stdout


def _write_stock(tmp: Path, stock: benchmark.Prepared) -> None:
    """The stock's texts and already computed fingerprints, for the loading subprocess."""
    entries = stock.entries
    count = len(entries)
    sh_off = np.zeros(count + 1, dtype=np.int64)
    np.cumsum([e.shingles.size for e in entries], out=sh_off[1:])
    sh_data = np.concatenate([e.shingles for e in entries]).astype(np.uint32) if count else np.empty(0, np.uint32)
    width = next((e.signature.size for e in entries if e.signature is not None), 0)
    sig = np.zeros((count, width), dtype=np.uint32)
    has_sig = np.zeros(count, dtype=bool)
    for i, entry in enumerate(entries):
        if entry.signature is not None:
            sig[i], has_sig[i] = entry.signature, True
    np.savez(
        tmp / "stock.npz",
        sh_off=sh_off,
        sh_data=sh_data,
        sig=sig,
        has_sig=has_sig,
        exact=np.array([e.exact for e in entries], dtype="S64"),
        norm_len=np.array([len(t) for t in stock.normalized], dtype=np.int64),
    )
    (tmp / "claims.json").write_text(json.dumps(stock.texts, ensure_ascii=False), encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _log_tail(server_log) -> str:
    server_log.flush()
    server_log.seek(0)
    return server_log.read()[-4000:].decode("utf-8", "replace")


def _wait_ready(server: subprocess.Popen, port: int, headers: dict[str, str], server_log) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{_log_tail(server_log)}")
        try:
            status, body = _request(port, "GET", PING, None, headers)
        except OSError:
            status, body = 0, b""
        if status == 200:
            return
        if status:
            raise RuntimeError(f"GET {PING} answered {status}: {body[:300]!r}\n{_log_tail(server_log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT:.0f} s:\n{_log_tail(server_log)}")
        time.sleep(0.2)


def _endpoints(queries: list[str]) -> list[Endpoint]:
    """The three measurements, with their request bodies encoded up front (the client must stay cheap)."""

    def encode(payload: dict) -> bytes:
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")

    batches = max(1, len(queries) // BATCH_SIZE)
    return [
        Endpoint("floor", "GET", PING, [None], 1),
        Endpoint("single", "POST", MATCH, [encode({"text": q}) for q in queries], 1),
        Endpoint(
            "batch",
            "POST",
            BATCH,
            [
                encode(
                    {
                        "items": [
                            {"id": str(i), "text": queries[(b * BATCH_SIZE + i) % len(queries)]}
                            for i in range(BATCH_SIZE)
                        ]
                    }
                )
                for b in range(batches)
            ],
            BATCH_SIZE,
        ),
    ]


def _check(port: int, headers: dict[str, str], endpoints: list[Endpoint], version: int) -> int:
    """One request per endpoint, answers checked: the workers serve the loaded index. Returns matched posts."""
    answers = {}
    for endpoint in endpoints:
        status, body = _request(port, endpoint.method, endpoint.path, endpoint.bodies[0], headers)
        if status != 200:
            raise RuntimeError(f"{endpoint.method} {endpoint.path} answered {status}: {body[:300]!r}")
        answers[endpoint.name] = json.loads(body)
    if answers["floor"] != {"ok": True}:
        raise RuntimeError(f"unexpected ping answer: {answers['floor']}")
    if answers["single"].get("index_version") != version:
        raise RuntimeError(f"the match answer is not at index v{version}: {answers['single']}")
    results = answers["batch"].get("results", [])
    if len(results) != BATCH_SIZE or any("error" in r or r.get("index_version") != version for r in results):
        raise RuntimeError(f"unexpected batch answer: {str(answers['batch'])[:500]}")
    return sum(1 for r in results if r["matched"])


def _hammer(
    port: int, headers: dict[str, str], endpoint: Endpoint, *, seconds: float | None = None, count: int | None = None
) -> Tally:
    """THREADS clients, each sending one request at a time, for `seconds` or until `count` requests were sent.

    Counts 200 answers; anything else (another status, a connection error) is an error. `seconds` of the
    result runs from the start to the last answer.
    """
    tickets = itertools.count()
    tallies = [Tally() for _ in range(THREADS)]
    finished = [0.0] * THREADS
    gate = threading.Barrier(THREADS + 1)
    deadline = float("inf")
    bodies = endpoint.bodies

    def client(slot: int) -> None:
        tally = tallies[slot]
        position = slot * len(bodies) // THREADS
        gate.wait()
        while time.perf_counter() < deadline and (count is None or next(tickets) < count):
            body = bodies[position % len(bodies)]
            position += 1
            try:
                status, answer = _request(port, endpoint.method, endpoint.path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                tally.error(type(exc).__name__, f"{endpoint.path}: {exc!r}")
            else:
                if status == 200:
                    tally.ok += 1
                else:
                    tally.error(str(status), f"{endpoint.path} {status}: {answer[:200]!r}")
            finished[slot] = time.perf_counter()

    threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in range(THREADS)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    if seconds is not None:
        deadline = started + seconds
    gate.wait()
    for thread in threads:
        thread.join()
    total = Tally()
    for tally in tallies:
        total.add(tally)
    total.seconds = max(max(finished) - started, 1e-9)
    return total


def _workers_cpu(master: int) -> float:
    """CPU seconds (user + system) the gunicorn workers used so far, from /proc (0 where unreadable).

    A diagnostic for the progress lines: it moves much less than requests per second when other processes
    compete for the CPU."""
    clock = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return 0.0
    total = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / clock


def _stop(server: subprocess.Popen) -> None:
    """Stop gunicorn: SIGTERM (graceful), then SIGKILL to its process group if it lingers."""
    if server.poll() is None:
        server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so its id still names its own process group (start_new_session): the workers too.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
