"""The shape the benchmark commands share: progress lines on stderr, then their figures on stdout, as aligned
`name  value` lines or, with --json, as one JSON object (nothing else on stdout, so that it can be piped)."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class FiguresCommand(BaseCommand):
    as_json = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")

    def execute(self, *args: Any, **options: Any) -> Any:
        self.as_json = bool(options.get("json"))
        return super().execute(*args, **options)

    def say(self, message: str) -> None:
        """A progress line (stderr; none with --json)."""
        if not self.as_json:
            self.stderr.write(message)

    def print_figures(self, figures: dict[str, Any]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(figures, ensure_ascii=False))
        else:
            width = max((len(k) for k in figures), default=0)
            for key, value in figures.items():
                self.stdout.write(f"{key:<{width}}  {value}")
        sys.stdout.flush()
