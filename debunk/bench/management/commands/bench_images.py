import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from debunk.bench.figures import FiguresCommand
from debunk.bench.image_variants import TRANSFORMS


class Command(FiguresCommand):
    help = (
        "Benchmark image matching on rumor screenshots rendered from real rumor texts (../shared/datasets), their "
        "variants (JPEG, resize, crop, caption bar, watermark, screenshot of a screenshot, rotation, photo of a "
        "screen) and unrelated pictures: match rates by hash and by OCR, false matches, hash/OCR/index timings and "
        "the HTTP API's images per second (gunicorn, 2 workers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rumors", type=int, default=200, help="Queried rumor screenshots (default 200).")
        parser.add_argument(
            "--stock",
            type=int,
            default=1000,
            help="Rumor pictures in the stock, queried ones included (default 1,000).",
        )
        parser.add_argument("--unrelated", type=int, default=1000, help="Unrelated pictures (default 1,000).")
        parser.add_argument(
            "--sample",
            type=int,
            default=12,
            help="Variants read by OCR per transformation, for OCR's own rate and among those the hash missed "
            "(default 12; 0 reads them all).",
        )
        parser.add_argument(
            "--ocr-unrelated",
            type=int,
            default=24,
            help="Unrelated pictures read by OCR (default 24; 0 reads them all).",
        )
        parser.add_argument(
            "--ocr-timing",
            type=int,
            default=5,
            help="bench_ocr's rendered posts read one at a time for ocr_ms_p50 (default 5; 0 skips it).",
        )
        parser.add_argument(
            "--transforms",
            default=",".join(TRANSFORMS),
            help="Comma-separated transformations to query (default all: " + ", ".join(TRANSFORMS) + ").",
        )
        parser.add_argument("--jobs", type=int, default=2, help="Worker processes for rendering and OCR (default 2).")
        parser.add_argument(
            "--index-size",
            type=int,
            default=1_000_000,
            help="Random hashes in the index timed against a numpy scan (default 1,000,000; 0 skips it).",
        )
        parser.add_argument(
            "--http",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Measure POST /api/v1/match with images through gunicorn (default on).",
        )
        parser.add_argument(
            "--datasets",
            default=str(Path(settings.BASE_DIR).parent / "shared" / "datasets"),
            help="Where claims_zh_checked.jsonl (and repost_pairs.jsonl) are read from.",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        from debunk.bench.render import cjk_font_path

        for name, low, high in (
            ("rumors", 1, 10_000),
            ("stock", 1, 100_000),
            ("unrelated", 1, 100_000),
            ("sample", 0, 100_000),
            ("ocr_unrelated", 0, 100_000),
            ("jobs", 1, 64),
            ("ocr_timing", 0, 1_000),
        ):
            if not low <= opts[name] <= high:
                raise CommandError(f"--{name.replace('_', '-')} must be between {low:,} and {high:,}.")
        if opts["stock"] < opts["rumors"]:
            raise CommandError("--stock must be at least --rumors (the queried rumors are in the stock).")
        if opts["index_size"] != 0 and not 1_000 <= opts["index_size"] <= 20_000_000:
            raise CommandError("--index-size must be 0 (skip) or between 1,000 and 20,000,000.")
        transforms = tuple(dict.fromkeys(t.strip() for t in opts["transforms"].split(",") if t.strip()))
        unknown = sorted(set(transforms) - set(TRANSFORMS)) or ([] if transforms else ["(none)"])
        if unknown:
            raise CommandError(
                f"--transforms: unknown transformation {', '.join(unknown)}; choose from {', '.join(TRANSFORMS)}."
            )
        datasets = Path(opts["datasets"])
        if not (datasets / "claims_zh_checked.jsonl").is_file():
            raise CommandError(
                f"No rumor texts: {datasets / 'claims_zh_checked.jsonl'} is absent. This benchmark renders real rumor "
                "texts from ../shared/datasets (research use only, never copied into the repository); give --datasets."
            )
        if cjk_font_path() is None:
            raise CommandError("No CJK font to render screenshots: install Debian's fonts-noto-cjk.")

        from debunk.bench import images as bi

        started = time.perf_counter()
        bar = self._bar
        with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
            http = None
            if opts["http"]:
                from debunk.bench.http_images import http_figures

                def http(run: Any) -> dict[str, Any]:
                    return http_figures(run, say=self.say)

            figures = bi.figures(
                datasets,
                rumors=opts["rumors"],
                stock_size=opts["stock"],
                unrelated=opts["unrelated"],
                sample_size=opts["sample"] or None,
                ocr_unrelated=opts["ocr_unrelated"] or None,
                jobs=opts["jobs"],
                bar=bar,
                say=self.say,
                http=http,
                index_size=opts["index_size"],
                ocr_images=opts["ocr_timing"],
                transforms=transforms,
                directory=tmp if opts["http"] else "",
            )
        figures["wall_s"] = round(time.perf_counter() - started, 1)
        self.print_figures(figures)

    def _bar(self, **kwargs: Any) -> tqdm:
        return tqdm(file=sys.stderr, disable=self.as_json, mininterval=1, **kwargs)
