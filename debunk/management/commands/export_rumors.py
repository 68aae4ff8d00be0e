import json
import sys

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from debunk.stock.importer import export_records
from debunk.stock.models import Rumor


class Command(BaseCommand):
    help = "Export rumors as JSON Lines in the format import_rumors reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="File to write; standard output when omitted.")
        parser.add_argument("--status", choices=Rumor.Status.values, help="Only rumors with this status.")

    def handle(self, *args, output: str | None = None, status: str | None = None, **options) -> None:
        rumors = (
            Rumor.objects.select_related("verdict", "category")
            .prefetch_related("variants", "sources", "debunks__sources")
            .order_by("pk")
        )
        if status:
            rumors = rumors.filter(status=status)
        out = open(output, "w", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        count = 0
        try:
            for record in tqdm(
                export_records(rumors.iterator(chunk_size=500)),
                total=rumors.count(),
                desc="Exporting",
                unit="rumor",
                file=sys.stderr,
                disable=None,
            ):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                out.close()
        self.stderr.write(f"Exported {count} rumor(s).")
