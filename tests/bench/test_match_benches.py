"""The match benchmarks' inputs: bad options fail with a command error before any work; the import benchmark's
JSONL is what import_rumors --publish accepts."""

import pytest
from django.core.management import CommandError, call_command

from debunk.bench.import_latency import import_lines
from debunk.stock.importer import parse_lines


def test_bench_match_rejects_an_unknown_stack():
    with pytest.raises(CommandError, match="unknown stack mysql"):
        call_command("bench_match", "--stacks", "sqlite,mysql", "--rumors", "10", "--queries", "5")


def test_bench_match_rejects_an_empty_stack_list():
    with pytest.raises(CommandError, match="unknown stack"):
        call_command("bench_match", "--stacks", ",", "--rumors", "10", "--queries", "5")


@pytest.mark.parametrize(
    "options",
    [["--imports", "0"], ["--stock", "-5"], ["--baseline-seconds", "0"], ["--stack", "mysql"]],
)
def test_bench_import_latency_rejects_bad_options(options):
    with pytest.raises(CommandError):
        call_command("bench_import_latency", *options)


def test_the_import_benchmark_writes_lines_import_rumors_publishes(db):
    texts = [
        "网传某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水。",
        "Drinking salt water cures the flu, doctors say.",
    ]
    records, errors = parse_lines(import_lines(texts), require_debunk=True)
    assert errors == []
    assert [r.claim for r in records] == texts
    assert all(r.debunk is not None and r.verdict.code == "false" for r in records)
