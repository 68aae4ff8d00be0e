import time
from contextlib import nullcontext

from django.conf import settings
from django.core.management.base import CommandParser

from debunk.bench import index_storage as storage_bench
from debunk.bench.figures import FiguresCommand


class Command(FiguresCommand):
    help = (
        "Measure where the match index lives: datasketch MinHashLSH over Redis and in memory against the project's "
        "memory-mapped snapshot plus deltas, on one synthetic Chinese stock (32x4 bands), in one run. Without "
        "--redis-url or REDIS_URL a throwaway redis-server is started on 127.0.0.1 and stopped at the end. The "
        "benchmark's keys (a fresh prefix) are deleted afterwards; 100,000 fingerprints take about 1.3 GB "
        "in Redis while it runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fingerprints", type=int, default=100_000, help="Stored fingerprints (default 100,000).")
        parser.add_argument("--queries", type=int, default=2_000, help="Posts matched (default 2,000).")
        parser.add_argument(
            "--redis-url",
            default=settings.REDIS_URL,
            help="Redis to measure datasketch's storage on (default REDIS_URL; none: a throwaway redis-server).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        started = time.perf_counter()
        url = opts["redis_url"]
        if not url:
            self.say(f"starting a throwaway {storage_bench.REDIS_SERVER}")
        with nullcontext(url) if url else storage_bench.throwaway_redis() as redis_url:
            figures = storage_bench.run(
                opts["fingerprints"],
                opts["queries"],
                redis_url,
                poll_seconds=settings.MATCH_INDEX_POLL_SECONDS,
                max_delta=settings.MATCH_INDEX_MAX_DELTA,
                say=self.say,
            )
        figures["redis"] = "given" if url else "throwaway"
        figures["run_seconds"] = round(time.perf_counter() - started, 1)
        self.print_figures(figures)
