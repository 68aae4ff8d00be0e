import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from tqdm import tqdm

from debunk.stock.importer import ImageExport, export_records
from debunk.stock.models import Rumor


class Command(BaseCommand):
    help = (
        "Export rumors as JSON Lines in the format import_rumors reads. With --output, the rumors' images are "
        'written to <output stem>_images/<rumor id>/ beside the file and listed in each record\'s "images", '
        "relative to the file's directory. On standard output images are left out, unless --images-dir is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="File to write; standard output when omitted.")
        parser.add_argument("--status", choices=Rumor.Status.values, help="Only rumors with this status.")
        parser.add_argument(
            "--images-dir",
            help=(
                "Directory for the images. With --output it must be inside the output file's directory "
                "(default <output stem>_images beside it). Without --output, images are exported only when this "
                "is given; it must then be inside the current directory, and the records' image paths are "
                "relative to the current directory (run import_rumors from there)."
            ),
        )

    def handle(
        self,
        *args,
        output: str | None = None,
        status: str | None = None,
        images_dir: str | None = None,
        **options,
    ) -> None:
        images = self._images(output, images_dir)
        rumors = (
            Rumor.objects.select_related("verdict", "category")
            .prefetch_related("variants", "sources", "debunks__sources", "attachments")
            .order_by("pk")
        )
        if status:
            rumors = rumors.filter(status=status)
        out = open(output, "w", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        count = 0
        try:
            for record in tqdm(
                export_records(rumors.iterator(chunk_size=500), images=images),
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
        if images is not None:
            for name in images.unreadable:
                self.stderr.write(self.style.WARNING(_("Image left out, its stored file cannot be read: %s") % name))
            self.stderr.write(f"Exported {count} rumor(s), {images.written} image(s) in {images.directory}.")
        else:
            self.stderr.write(f"Exported {count} rumor(s).")

    def _images(self, output: str | None, images_dir: str | None) -> ImageExport | None:
        """Where images go, or None on standard output without --images-dir (there is no file to put them beside)."""
        if output:
            out = Path(output).absolute()
            directory = Path(images_dir) if images_dir else out.with_name(f"{out.stem}_images")
            base = out.parent
        elif images_dir:
            directory, base = Path(images_dir), Path.cwd()
        else:
            return None
        try:
            return ImageExport(directory, base)
        except ValueError as exc:
            raise CommandError(
                _(
                    "--images-dir must be inside %(base)s: import_rumors reads images only from the directory of "
                    "the JSONL file (the current directory for standard output)."
                )
                % {"base": base.resolve()}
            ) from exc
