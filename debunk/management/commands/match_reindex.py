import sys

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from debunk.matching.fingerprints import index_bump, rumor_fingerprints_sync
from debunk.stock.models import Rumor


class Command(BaseCommand):
    help = "Recompute the stored fingerprints of every rumor and its variants (after a change of algorithm)."

    def handle(self, *args, **options) -> None:
        rumors = Rumor.objects.prefetch_related("variants").order_by("pk")
        count = 0
        for rumor in tqdm(
            rumors.iterator(chunk_size=500),
            total=rumors.count(),
            desc="Fingerprinting",
            unit="rumor",
            file=sys.stderr,
            disable=None,
        ):
            with transaction.atomic():
                rumor_fingerprints_sync(rumor)
            count += 1
        index_bump()
        self.stdout.write(self.style.SUCCESS(f"Fingerprinted {count} rumor(s); the match index will reload."))
