import io
import json

import pytest
from django.core.management import CommandError, call_command

from debunk.bench.ocr import cjk_font_path


@pytest.mark.skipif(cjk_font_path() is None, reason="no CJK font to render screenshots: install fonts-noto-cjk")
def test_figures_on_tiny_sizes():
    out = io.StringIO()
    call_command("bench_ocr", "--images", "2", "--long-height", "2400", "--json", stdout=out, stderr=io.StringIO())
    figures = json.loads(out.getvalue())
    assert figures["ocr_images"] == 2 and figures["ocr_threads"] == 1
    assert 0 < figures["ocr_ms_p50"] <= figures["ocr_ms_p95"]
    assert 0 <= figures["ocr_cer_mean"] <= 0.05
    assert figures["long_px"] == "1080x2400" and figures["long_tiles"] >= 2
    assert figures["long_tiled_cer"] <= 0.05
    assert 0 <= figures["long_whole_cer_baseline"] <= 1
    assert figures["peak_rss_mb"] > 100


@pytest.mark.parametrize(
    "args, message",
    [
        (["--images", "0"], "--images"),
        (["--threads", "0"], "--threads"),
        (["--long-height", "100"], "--long-height"),
    ],
)
def test_bad_options_are_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("bench_ocr", *args, stdout=io.StringIO(), stderr=io.StringIO())
