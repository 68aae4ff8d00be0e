"""Blacklist check benchmark over HTTP: POST /api/v1/blacklist/check with batches of identity hashes, served by
gunicorn (2 sync workers) on 127.0.0.1 against a throwaway SQLite database, with GET /api/v1/ping as the floor,
measured in interleaved rounds in the same run (the helpers of debunk.matching.http_bench).

    python manage.py bench_blacklist [--identities N] [--batch B] [--json]
"""

import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from debunk.bench import http_match as hb
from debunk.bench.figures import FiguresCommand

TARGET = 5_000  # checks per second
BANNED_SHARE = 10  # one hash in BANNED_SHARE of a batch is banned


def identity(i: int) -> str:
    return hashlib.sha256(f"bench-identity-{i}".encode()).hexdigest()


class Command(FiguresCommand):
    help = "Blacklist checks per second over HTTP (gunicorn, 2 workers) against GET /api/v1/ping as the floor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--identities", type=int, default=100_000, help="banned identities in the database")
        parser.add_argument("--batch", type=int, default=1000, help="hashes per request (at most 1,000)")
        parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
        parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the median is kept)")
        super().add_arguments(parser)
        parser.add_argument("--load", help="(internal) fill the throwaway database DIR points at")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["load"]:
            self.stdout.write(json.dumps(_load(options["identities"])))
            return
        figures = bench(
            identities=options["identities"],
            batch=max(1, min(options["batch"], 1000)),
            seconds=options["seconds"],
            rounds=max(1, options["rounds"]),
            say=self.say,
        )
        self.print_figures(figures)


def _load(count: int) -> dict[str, Any]:
    """In the throwaway database (run in a subprocess): a platform, its key, and `count` identities under one
    active registration ban. Written with bulk_create, bypassing the services: benchmark data only."""
    from django.db import transaction
    from django.utils import timezone

    from debunk.api.keys import api_key_create
    from debunk.api.models import Platform
    from debunk.core.roles import operator_user
    from debunk.sanctions.models import BannedIdentity, Measure, Sanction

    with transaction.atomic():
        platform = Platform.objects.create(code="benchmark", name="Benchmark")
        _key, raw = api_key_create(platform=platform, name="blacklist benchmark", by=operator_user())
        sanction = Sanction.objects.create(
            platform=platform,
            author_hash=identity(-1),
            measure=Measure.REGISTRATION_BAN,
            recommended_measure=Measure.REGISTRATION_BAN,
            status=Sanction.Status.ACTIVE,
            approved_at=timezone.now(),
        )
        BannedIdentity.objects.bulk_create(
            (BannedIdentity(identity_hash=identity(i), sanction=sanction) for i in range(count)), batch_size=5000
        )
    return {"key": raw, "identities": count}


def _bodies(identities: int, batch: int, count: int = 20) -> tuple[list[bytes], int]:
    """Request bodies: one hash in BANNED_SHARE is a banned identity, the others unknown; and the banned per body."""
    bodies = []
    unknown = identities + 1
    for b in range(count):
        hashes = []
        for i in range(batch):
            if i % BANNED_SHARE == 0 and identities:
                hashes.append(identity((b * batch + i) % identities))
            else:
                hashes.append(identity(unknown))
                unknown += 1
        bodies.append(json.dumps({"hashes": hashes}).encode())
    return bodies, (sum(1 for i in range(batch) if i % BANNED_SHARE == 0) if identities else 0)


def bench(*, identities: int, batch: int, seconds: float, rounds: int, say: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="debunk-blacklist-bench-"))
    server: subprocess.Popen | None = None
    server_log = None
    try:
        env = hb._environment(tmp)
        started = time.perf_counter()
        hb._run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
        loaded = json.loads(
            hb._run(
                [sys.executable, "manage.py", "bench_blacklist", "--load", str(tmp), "--identities", str(identities)],
                env,
                "load",
            )
            .strip()
            .splitlines()[-1]
        )
        say(f"blacklist: {identities} banned identities loaded in {time.perf_counter() - started:.1f} s")
        port = hb._free_port()
        server_log = open(tmp / "gunicorn.log", "w+b")  # noqa: SIM115 (closed in finally)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "debunk.wsgi:application", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", str(hb.WORKERS), "--worker-class", "sync", "--log-level", "warning"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        headers = {
            "Authorization": f"Api-Key {loaded['key']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Connection": "close",
        }
        hb._wait_ready(server, port, headers, server_log)
        say(f"blacklist: gunicorn on 127.0.0.1:{port}, {hb.WORKERS} sync workers")
        bodies, banned_per_body = _bodies(identities, batch)
        status, answer = hb._request(port, "POST", "/api/v1/blacklist/check", bodies[0], headers)
        results = json.loads(answer).get("results", []) if status == 200 else []
        found = sum(1 for r in results if r.get("banned"))
        if status != 200 or len(results) != batch or found != banned_per_body:
            raise RuntimeError(f"check answered {status}, {found} banned of {len(results)}: {answer[:300]!r}")
        say(f"blacklist: check passed, {found} of {batch} hashes banned")
        endpoints = [
            hb.Endpoint("floor", "GET", hb.PING, [None], 1),
            hb.Endpoint("check", "POST", "/api/v1/blacklist/check", bodies, batch),
        ]
        errors = hb.Tally()
        for endpoint in endpoints:
            errors.add(hb._hammer(port, headers, endpoint, count=20))
        rates: dict[str, list[float]] = {"floor": [], "check": []}
        for round_no in range(1, rounds + 1):
            for endpoint in endpoints:
                tally = hb._hammer(port, headers, endpoint, seconds=seconds)
                errors.add(tally)
                rates[endpoint.name].append(tally.ok / tally.seconds)
                say(f"blacklist: round {round_no}/{rounds} {endpoint.name}: {tally.ok / tally.seconds:.1f} req/s")
        if errors.errors:
            say(f"blacklist: {errors.errors} failed requests: {dict(errors.problems)} {errors.samples[:2]}")
        floor, check = statistics.median(rates["floor"]), statistics.median(rates["check"])
        return {
            "banned_identities": identities,
            "batch": batch,
            "http_floor_req_per_s": round(floor, 1),
            "check_req_per_s": round(check, 1),
            "checks_per_s": round(check * batch, 1),
            "check_vs_floor": round(check / floor, 3) if floor else None,
            "target_checks_per_s": TARGET,
            "meets_target": check * batch >= TARGET,
            "errors": errors.errors,
        }
    finally:
        if server is not None:
            hb._stop(server)
        if server_log is not None:
            server_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
