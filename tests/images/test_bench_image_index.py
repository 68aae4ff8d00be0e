import io
import json

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("bench_image_index", *args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_figures_on_tiny_sizes():
    figures = run("--sizes", "300,2000", "--queries", "20")
    for label in ("300", "2k"):
        for key in ("numpy_scan_ms", "index_query_ms", "index_query_ms_p99", "compiled_scan_ms", "index_mb"):
            assert figures[f"{key}_{label}"] > 0
        assert figures[f"index_agrees_with_numpy_{label}"] is True
        assert 0 < figures[f"queries_answered_{label}"] <= 20  # copies at 0-40 bits: most, not all, answered
    assert figures["hash_ms_p50"] > 0 and figures["hash_dihedral_ms_p50"] > 0
    assert figures["hash_full_size_ms_p50"] > 0 and figures["hash_full_size_dihedral_ms_p50"] > 0
    assert figures["hash_speedup"] > 0
    assert 0 <= figures["hash_distance_to_full_size_max"] <= 31  # the pipeline's hashes still meet full-size ones
    assert figures["hash_decoder"].startswith("fingerprint_image (pdq-512-v1")
    assert figures["max_distance"] == 31


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "many"], "--sizes"),
        (["--sizes", "0"], "--sizes"),
        (["--sizes", ""], "--sizes"),
        (["--sizes", "30000000"], "--sizes"),
        (["--queries", "0"], "--queries"),
        (["--max-distance", "300"], "--max-distance"),
    ],
)
def test_bad_options_are_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("bench_image_index", *args, stdout=io.StringIO(), stderr=io.StringIO())
