import gc

from django.core.management.base import CommandError, CommandParser

from debunk.bench import image_index as bi
from debunk.bench.figures import FiguresCommand

MAX_SIZE = 20_000_000


class Command(FiguresCommand):
    help = (
        "Benchmark the image hash index (multi-index hashing) against a plain numpy scan of the same stored hashes, "
        "in the same run, and the time to decode and PDQ-hash a 1024x768 JPEG through the fingerprint pipeline "
        "against the full-size baseline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes", default="1000000", help="Comma-separated numbers of stored hashes (default 1000000)."
        )
        parser.add_argument("--queries", type=int, default=200, help="Queries per size (default 200).")
        parser.add_argument("--max-distance", type=int, default=31, help="Hamming distance of a match (default 31).")
        parser.add_argument("--no-hash", action="store_true", help="Skip the decode + PDQ timing.")
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        try:
            sizes = [int(s) for s in opts["sizes"].split(",") if s.strip()]
        except ValueError:
            raise CommandError(f"--sizes: expected comma-separated whole numbers, got {opts['sizes']!r}.") from None
        if not sizes or any(not 1 <= s <= MAX_SIZE for s in sizes):
            raise CommandError(f"--sizes: each size must be between 1 and {MAX_SIZE:,}.")
        if not 1 <= opts["queries"] <= 100_000:
            raise CommandError("--queries must be between 1 and 100,000.")
        if not 0 <= opts["max_distance"] <= 256:
            raise CommandError("--max-distance must be between 0 and 256.")
        figures: dict = {"max_distance": opts["max_distance"], "queries": opts["queries"]}
        for n in sizes:
            self.say(f"{n:,} stored hashes: building, saving, loading, then {opts['queries']} queries per method")
            figures.update(bi.index_figures(n, opts["queries"], opts["max_distance"]))
            gc.collect()
        if not opts["no_hash"]:
            self.say("decode + PDQ of 1024x768 JPEGs: the pipeline, then the full-size baseline")
            figures.update(bi.hash_figures())
        self.print_figures(figures)
