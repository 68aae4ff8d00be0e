"""Check a hand-over package: its manifest's signature (the server's key unless --public-key) and every file."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.reports.package import verify_package
from debunk.reports.receipts import public_key


class Command(BaseCommand):
    help = "Check a hand-over package offline: the signed manifest, and every file's size and SHA-256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("package", help="the package (ZIP file)")
        parser.add_argument("--public-key", default="", help="base64 public key (default: this server's)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["package"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        problems = verify_package(path, options["public_key"] or public_key())
        if problems:
            raise CommandError("INVALID: " + "; ".join(problems))
        self.stdout.write(f"VALID: {path}")
