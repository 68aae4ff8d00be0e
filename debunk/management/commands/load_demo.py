from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_FILE = Path(__file__).resolve().parents[2] / "stock" / "demo" / "rumors.jsonl"  # debunk/stock/demo/


class Command(BaseCommand):
    help = "Load the ~50 demo rumors with their debunks, published (idempotent: re-running updates them)."

    def handle(self, *args, **options) -> None:
        call_command("import_rumors", str(DEMO_FILE), "--publish", stdout=self.stdout, stderr=self.stderr)
