from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from debunk.bench.figures import FiguresCommand
from debunk.bench.http_match import BACKENDS
from debunk.bench.import_latency import import_latency_figures


class Command(FiguresCommand):
    help = (
        "Match latency (p50/p99/max, over HTTP to gunicorn) while `import_rumors --publish` imports rumors, beside "
        "the same run's latency with no import running. Throwaway database and index; nothing of yours is touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--imports", type=int, default=2_000, help="Rumors imported and published (2,000).")
        parser.add_argument("--stock", type=int, default=20_000, help="Published rumors served before (20,000).")
        parser.add_argument("--baseline-seconds", type=float, default=20.0, help="Baseline measurement (20 s).")
        parser.add_argument("--stack", default="sqlite", choices=BACKENDS, help="Database behind gunicorn.")
        parser.add_argument(
            "--datasets",
            default=str(Path(settings.BASE_DIR).parent / "shared" / "datasets"),
            help="Where real rumor texts to import are read from when present (else synthetic texts).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        if opts["imports"] < 1 or opts["stock"] < 1 or opts["baseline_seconds"] <= 0:
            raise CommandError("--imports, --stock and --baseline-seconds must be positive.")
        figures = import_latency_figures(
            stock_size=opts["stock"],
            imports=opts["imports"],
            datasets=Path(opts["datasets"]),
            backend=opts["stack"],
            baseline_seconds=opts["baseline_seconds"],
            say=self.say,
        )
        self.print_figures(figures)
