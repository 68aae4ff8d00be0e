"""Reports benchmark: reports accepted per second over HTTP (gunicorn, 2 workers, matching on) against the ping
floor of the same run, and duplicate folding of many reports of few contents (debunk.bench.reports).

    python manage.py bench_reports [--rumors N] [--rounds R] [--seconds S] [--fold-reports N]
                                   [--fold-distinct D] [--skip-http] [--skip-fold] [--json]
"""

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from debunk.bench.figures import FiguresCommand


class Command(FiguresCommand):
    help = "Reports per second over HTTP against the ping floor, and duplicate folding at scale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rumors", type=int, default=10_000, help="published rumors in the stock (matching on)")
        parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the median is kept)")
        parser.add_argument("--seconds", type=float, default=4.0, help="length of each measurement")
        parser.add_argument("--fold-reports", type=int, default=100_000, help="reports submitted for folding")
        parser.add_argument("--fold-distinct", type=int, default=1_000, help="distinct contents among them")
        parser.add_argument("--skip-http", action="store_true", help="only the folding measurement")
        parser.add_argument("--skip-fold", action="store_true", help="only the HTTP measurement")
        parser.add_argument(
            "--fold-run", nargs=2, type=int, metavar=("REPORTS", "DISTINCT"), help="(internal) fold in this database"
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from debunk.bench import reports as bench

        if options["fold_run"]:
            reports, distinct = options["fold_run"]
            self.print_figures(
                bench.fold_run(reports=reports, distinct=distinct, say=lambda m: print(m, file=sys.stderr))
            )
            return
        if options["fold_distinct"] < 1 or options["fold_reports"] < options["fold_distinct"]:
            raise CommandError("--fold-reports must be at least --fold-distinct, which must be at least 1.")
        if options["rumors"] < 1 or options["rounds"] < 1 or options["seconds"] <= 0:
            raise CommandError("--rumors and --rounds must be at least 1 and --seconds positive.")
        figures: dict[str, Any] = {}
        if not options["skip_http"]:
            figures |= bench.http_figures(
                rumors=options["rumors"], rounds=options["rounds"], seconds=options["seconds"], say=self.say
            )
        if not options["skip_fold"]:
            figures |= bench.fold_figures(
                reports=options["fold_reports"], distinct=options["fold_distinct"], say=self.say
            )
        self.print_figures(figures)
