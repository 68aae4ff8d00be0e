from django.core.management.base import CommandError, CommandParser

from debunk.bench.figures import FiguresCommand


class Command(FiguresCommand):
    help = (
        "Benchmark offline OCR (RapidOCR + onnxruntime): ms per rendered Weibo-like screenshot (p50/p95), character "
        "error, peak RSS, and one long screenshot read in tiles against the same image read whole (the baseline)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=int, default=20, help="Rendered screenshots read (default 20).")
        parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1).")
        parser.add_argument(
            "--long-height",
            type=int,
            default=8000,
            help="Height in px of the 1080-px-wide long screenshot (default 8,000; 0 skips it).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        from debunk.bench.ocr import cjk_font_path, ocr_figures

        if not 1 <= opts["images"] <= 10_000:
            raise CommandError("--images must be between 1 and 10,000.")
        if not 1 <= opts["threads"] <= 64:
            raise CommandError("--threads must be between 1 and 64.")
        if opts["long_height"] != 0 and not 2_001 <= opts["long_height"] <= 40_000:
            raise CommandError("--long-height must be 0 (skip) or between 2,001 and 40,000 px.")
        if cjk_font_path() is None:
            raise CommandError("No CJK font to render screenshots: install Debian's fonts-noto-cjk.")
        self.say(f"OCR of {opts['images']} rendered screenshots, {opts['threads']} thread(s)…")
        self.print_figures(ocr_figures(opts["images"], threads=opts["threads"], long_height=opts["long_height"]))
