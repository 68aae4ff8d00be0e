import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labels.standard import standard_import


class Command(BaseCommand):
    help = "Create or update categories and verdict labels from a JSON file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON file in the format written by labels_export.")

    def handle(self, *args, file: str, **options) -> None:
        try:
            with open(file, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: line {exc.lineno}: {exc.msg}") from exc
        try:
            counts = standard_import(data)
        except ValidationError as exc:
            raise CommandError(f"Nothing imported. {' '.join(exc.messages)}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Standard imported: {counts['created']} created, {counts['updated']} updated.")
        )
