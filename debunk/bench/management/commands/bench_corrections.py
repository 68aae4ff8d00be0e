"""Benchmark corrections on PostgreSQL with a real Celery worker: exposures over an archive of posts, a
rumor published that matches 1% of them, time until every correction exists and until every one has
reached `webhook_sink` on 127.0.0.1.

Everything the run creates belongs to a platform of its own (`bench-…`) and a rumor it publishes; both
are deleted at the end (`--keep` keeps them). Needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL.
"""

import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from debunk.api.models import Platform
from debunk.bench import matching as bm
from debunk.bench.figures import FiguresCommand
from debunk.core.roles import FACT_CHECKER, REVIEWER, system_user
from debunk.corrections.models import Correction, Exposure
from debunk.matching.fingerprints import fingerprint_fields
from debunk.matching.models import Fingerprint, Post
from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from debunk.webhooks.models import WebhookEndpoint
from labels.models import Category, VerdictLabel

RUMOR = "紧急扩散：某市自来水厂被不明化学品污染，自来水已经不能饮用，明天起全市停水三天，请大家赶紧囤水并转告家人朋友"
ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command(FiguresCommand):
    help = "Benchmark corrections: exposures → publish → corrections created → delivered to webhook_sink."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--posts", type=int, default=100_000, help="Archived posts (default 100,000).")
        parser.add_argument("--exposures", type=int, default=1_000_000, help="Exposures (default 1,000,000).")
        parser.add_argument("--users", type=int, default=300_000, help="Distinct users the exposures come from.")
        parser.add_argument("--match-share", type=float, default=0.01, help="Share of posts carrying the rumor.")
        parser.add_argument("--timeout", type=float, default=900.0, help="Seconds to wait for each phase.")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark's rows.")
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_corrections runs on PostgreSQL: set DATABASE_URL (`make stack` starts one).")
        if not settings.CELERY_BROKER_URL:
            raise CommandError("bench_corrections needs a real worker: set CELERY_BROKER_URL (or REDIS_URL).")
        self.code = f"bench-{secrets.token_hex(3)}"
        self.procs: list[subprocess.Popen] = []
        out = ROOT / "var" / f"{self.code}-sink.jsonl"
        try:
            platform = Platform.objects.create(code=self.code, name=self.code)
            planted = self._archive(platform, opts["posts"], opts["match_share"])
            self._exposures(platform, opts["posts"], opts["exposures"], opts["users"])
            expected = (
                Exposure.objects.filter(platform=platform, post_id__in=planted).values("user_hash").distinct().count()
            )
            self._start_sink_and_worker(platform, out)
            started = time.perf_counter()
            rumor = self._publish()
            create = self._wait(
                lambda: Correction.objects.filter(platform=platform, rumor=rumor).count(), expected, opts, "created"
            )
            create_seconds = time.perf_counter() - started
            delivered = self._wait(
                lambda: Correction.objects.filter(platform=platform, rumor=rumor, status="delivered").count(),
                expected,
                opts,
                "delivered",
            )
            deliver_seconds = time.perf_counter() - started
            received = self._received(out)
            figures = {
                "posts": opts["posts"],
                "exposures": Exposure.objects.filter(platform=platform).count(),
                "matched_posts": len(planted),
                "corrections": create,
                "expected_corrections": expected,
                "create_seconds": round(create_seconds, 2),
                "deliver_seconds": round(deliver_seconds, 2),
                "rows_per_s": round(create / create_seconds, 1) if create_seconds else None,
                "delivered": delivered,
                "received_by_sink": received,
            }
        finally:
            for proc in self.procs:
                proc.terminate()
            for proc in self.procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if not opts["keep"]:
                try:
                    self._cleanup()
                except Exception as exc:  # the figures still count; say what is left behind
                    self.stderr.write(f"cleanup of platform {self.code} failed: {exc}")
        self.print_figures(figures)

    # ---- setup --------------------------------------------------------------------------------------
    def _archive(self, platform: Platform, count: int, share: float) -> list[int]:
        """Posts as the archive holds them before the rumor is known: texts and fingerprints."""
        corpus = bm.Corpus()
        planted_every = max(1, round(1 / share)) if share > 0 else count + 1
        now = timezone.now()
        planted_ids: list[int] = []
        for start in tqdm(range(0, count, 5000), desc="posts", unit="k posts", disable=self.as_json):
            rows = []
            for i in range(start, min(start + 5000, count)):
                if i % planted_every == 0:
                    text = (
                        corpus.post(corpus.pyrng.randint(5, 40)) + "//@网友:" + corpus.edit(RUMOR, 0.0)
                    )  # punctuation and emoji only
                else:
                    text = corpus.post(corpus.pyrng.randint(40, 200))
                rows.append(
                    Post(
                        platform=platform,
                        platform_post_id=f"p{i}",
                        text=text,
                        archived=True,
                        posted_at=now - timedelta(hours=1),
                    )
                )
            with transaction.atomic():
                posts = Post.objects.bulk_create(rows)
                Fingerprint.objects.bulk_create(
                    [Fingerprint(source=Fingerprint.Source.POST, post=p, **fingerprint_fields(p.text)) for p in posts]
                )
            planted_ids += [p.pk for p in posts if int(p.platform_post_id[1:]) % planted_every == 0]
        return planted_ids

    def _exposures(self, platform: Platform, posts: int, count: int, users: int) -> None:
        """Exposures by COPY (the API path is measured by the tests; this sets the stage fast)."""
        post_pks = list(Post.objects.filter(platform=platform).order_by("pk").values_list("pk", flat=True))  # p0, p1…
        rng = np.random.default_rng(7)
        user_hashes = [secrets.token_hex(32) for _ in range(users)]
        at = timezone.now() - timedelta(minutes=30)
        # unique (post, user, interaction) triples, as the API would store them
        keys = np.unique(
            rng.integers(0, posts, count) * (users * 5)
            + rng.integers(0, users, count) * 5
            + rng.choice(5, count, p=[0.05, 0.05, 0.1, 0.2, 0.6])
        )
        table = Exposure._meta.db_table
        columns = "platform_id, platform_post_id, post_id, user_hash, interaction, at, created_at"
        stamp = at.isoformat()
        with connection.cursor() as cursor:
            for start in tqdm(range(0, keys.size, 100_000), desc="exposures", unit="100k", disable=self.as_json):
                chunk = keys[start : start + 100_000]
                post_index, rest = np.divmod(chunk, users * 5)
                user_index, kinds = np.divmod(rest, 5)
                buffer = io.StringIO()
                for p, u, k in zip(post_index.tolist(), user_index.tolist(), kinds.tolist(), strict=True):
                    buffer.write(f"{platform.pk}\tp{p}\t{post_pks[p]}\t{user_hashes[u]}\t{k + 1}\t{stamp}\t{stamp}\n")
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
        self.say(f"exposures: {Exposure.objects.filter(platform=platform).count()}")

    def _start_sink_and_worker(self, platform: Platform, out: Path) -> None:
        from debunk.webhooks.services import secret_generate

        port = free_port()
        secret = secret_generate()
        WebhookEndpoint.objects.create(platform=platform, url=f"http://127.0.0.1:{port}/", secret=secret)
        env = {**os.environ, "WEBHOOK_ALLOW_PRIVATE": "1"}
        python = sys.executable
        self.procs.append(
            subprocess.Popen(
                [python, "manage.py", "webhook_sink", "--port", str(port), "--secret", secret, "--out", str(out)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        log = open(ROOT / "var" / f"{self.code}-worker.log", "w")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "debunk",
                    "worker",
                    "-B",
                    "--concurrency=2",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "-s",
                    str(ROOT / "var" / f"{self.code}-beat"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        time.sleep(5)

    def _publish(self) -> Rumor:
        author = system_user("system-bench", FACT_CHECKER)
        reviewer = system_user("system-reviewer", REVIEWER)
        rumor = rumor_services.rumor_create(
            by=author,
            claim=RUMOR,
            category=Category.objects.get(code="livelihood"),
            verdict=VerdictLabel.objects.get(code="false"),
            external_id=f"{self.code}-rumor",
        )
        debunk_services.debunk_create(
            rumor=rumor, by=author, title="停水三天系谣言", summary="供水正常。", body="供水正常。"
        )
        rumor_services.rumor_submit(rumor=rumor, by=author)
        return rumor_services.rumor_publish(rumor=rumor, by=reviewer)

    def _wait(self, count, expected: int, opts: dict, what: str) -> int:
        deadline = time.monotonic() + opts["timeout"]
        with tqdm(total=expected, desc=what, disable=self.as_json, mininterval=2) as bar:
            while True:
                n = count()
                bar.update(n - bar.n)
                if n >= expected:
                    return n
                if time.monotonic() > deadline:
                    raise CommandError(f"timed out: {n} of {expected} corrections {what}")
                time.sleep(0.2)

    def _received(self, out: Path) -> int:
        """Distinct corrections the sink received (a redelivered webhook-id counts once)."""
        ids: set[int] = set()
        if out.exists():
            for line in out.read_text().splitlines():
                entry = json.loads(line)
                ids.update(c["id"] for c in entry["payload"]["data"]["corrections"])
        return len(ids)

    def _cleanup(self) -> None:
        platform = Platform.objects.filter(code=self.code).first()
        if platform is None:
            return
        Correction.objects.filter(platform=platform).delete()
        Exposure.objects.filter(platform=platform).delete()
        Post.objects.filter(platform=platform).delete()
        WebhookEndpoint.objects.filter(platform=platform).delete()
        Rumor.objects.filter(external_id=f"{self.code}-rumor").delete()
        platform.delete()
