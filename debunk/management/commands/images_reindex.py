from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from tqdm import tqdm

from debunk.images.pipeline import ALGORITHM
from debunk.images.services import SyncResult, image_fingerprints_sync
from debunk.stock.models import Attachment, Rumor


class Command(BaseCommand):
    help = (
        "Recompute the stored fingerprints of every rumor image (after a change of algorithm); --missing only "
        "computes those not stored yet. Unreadable files are logged and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--missing", action="store_true", help="Only fingerprint images without a stored fingerprint."
        )

    def handle(self, *args, **options) -> None:
        rumors = (
            Rumor.objects.filter(attachments__role=Attachment.Role.RUMOR_IMAGE, attachments__kind=Attachment.Kind.IMAGE)
            .distinct()
            .prefetch_related("attachments")
            .order_by("pk")
        )
        # Rumors without images may still hold fingerprints (their images were removed): those go too.
        orphans = Rumor.objects.filter(image_fingerprints__isnull=False).exclude(pk__in=rumors.values("pk"))
        total = SyncResult()
        for rumor in orphans.distinct():
            with transaction.atomic():
                total.add(image_fingerprints_sync(rumor))
        images = Attachment.objects.filter(role=Attachment.Role.RUMOR_IMAGE, kind=Attachment.Kind.IMAGE).count()
        with tqdm(total=images, desc="images_reindex", unit="image", file=self.stderr._out, mininterval=0.5) as bar:
            for rumor in rumors.iterator(chunk_size=200):
                with transaction.atomic():
                    result = image_fingerprints_sync(rumor, force=not options["missing"])
                total.add(result)
                bar.update(result.computed + result.kept + result.skipped)
        message = (
            f"{ALGORITHM}: {total.computed} image fingerprint(s) computed, {total.kept} kept, "
            f"{total.removed} removed, {total.skipped} unreadable image(s) skipped (see the log)."
        )
        self.stdout.write(self.style.WARNING(message) if total.skipped else self.style.SUCCESS(message))
