import json

from django.core.management.base import BaseCommand, CommandParser

from labels.standard import standard_export


class Command(BaseCommand):
    help = "Write the classification standard (categories and verdict labels) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="File to write; standard output when omitted.")

    def handle(self, *args, output: str | None = None, **options) -> None:
        text = json.dumps(standard_export(), ensure_ascii=False, indent=2) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(self.style.SUCCESS(f"Wrote the standard to {output}"))
        else:
            self.stdout.write(text, ending="")
