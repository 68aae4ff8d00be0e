import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.core.roles import operator_user
from labels.standard import standard_import


class Command(BaseCommand):
    help = (
        "Create or update categories and verdict labels from a JSON file (all or nothing), as the operator user: "
        "each record created or changed is audited."
    )

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
            counts = standard_import(data=data, by=operator_user())
        except (ValidationError, PermissionDenied) as exc:
            reason = " ".join(getattr(exc, "messages", None) or [str(exc)])
            raise CommandError(f"Nothing imported. {reason}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Standard imported: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged."
            )
        )
