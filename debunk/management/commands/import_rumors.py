import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from debunk.core.roles import REVIEWER, system_user
from debunk.stock.importer import import_records, parse_lines

IMPORTER, PUBLISHER = "system-importer", "system-reviewer"


class Command(BaseCommand):
    help = (
        "Import rumors from a JSON Lines file (one rumor per line); re-importing an external_id updates it. "
        "A record's \"images\" are paths relative to the file's directory (to the current directory when reading "
        "standard input)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            help="Path to the .jsonl file, or - for standard input (image paths then start at the current directory).",
        )
        parser.add_argument("--verdict", help="Verdict code for lines that have none.")
        parser.add_argument("--category", default="other", help="Category code for lines that have none.")
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Publish the imported rumors, reviewed by the system reviewer account.",
        )
        parser.add_argument("--user", help="Username recorded as the author (default: system-importer).")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid lines and report the others (default: import nothing if any line is invalid).",
        )

    def handle(self, *args, **opts) -> None:
        lines = self._read(opts["file"])
        base_dir = Path.cwd() if opts["file"] == "-" else Path(opts["file"]).parent
        records, errors = parse_lines(
            lines,
            default_verdict=opts["verdict"],
            default_category=opts["category"],
            require_debunk=opts["publish"],
            base_dir=base_dir,
        )
        for error in errors:
            self.stderr.write(self.style.ERROR(str(error)))
        if errors and not opts["skip_invalid"]:
            raise CommandError(
                f"Nothing imported: {len(errors)} invalid line(s) of {len(records) + len(errors)}. "
                "Fix them, or use --skip-invalid to import the valid lines."
            )
        author = self._author(opts["user"])
        publisher = system_user(PUBLISHER, REVIEWER) if opts["publish"] else None
        progress = tqdm(records, desc="Importing", unit="rumor", file=sys.stderr, disable=None)
        try:
            summary = import_records(progress, by=author, publish_by=publisher, atomic=not opts["skip_invalid"])
        except ValidationError as exc:
            raise CommandError(f"Nothing imported: {' '.join(exc.messages)}") from exc
        for error in summary.errors:
            self.stderr.write(self.style.ERROR(str(error)))
        skipped = len(errors) + len(summary.errors)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {summary.created + summary.updated} rumor(s): {summary.created} created, "
                f"{summary.updated} updated, {summary.published} published, {skipped} skipped."
            )
        )

    def _read(self, path: str) -> list[str]:
        if path == "-":
            return sys.stdin.read().splitlines()
        try:
            return Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text (byte {exc.start}).") from exc

    def _author(self, username: str | None):
        if not username:
            return system_user(IMPORTER, REVIEWER)
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
