from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_FILE = Path(__file__).resolve().parents[2] / "stock" / "demo" / "rumors.jsonl"  # debunk/stock/demo/


class Command(BaseCommand):
    help = (
        "Load the ~50 demo rumors with their debunks, published, and a demo platform's reports (idempotent: "
        "re-running updates the rumors and answers the same reports)."
    )

    def handle(self, *args, **options) -> None:
        from debunk.reports.demo import demo_reports_load

        call_command("import_rumors", str(DEMO_FILE), "--publish", stdout=self.stdout, stderr=self.stderr)
        answers = demo_reports_load()
        linked = sum(1 for a in answers if a.rumor_id)
        leads = len({a.cluster_id for a in answers})
        self.stdout.write(f"{len(answers)} demo reports: {leads} leads, {linked} linked to a rumor on arrival")
