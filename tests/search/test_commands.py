"""eval_search and bench_search on small inputs (the real datasets are read from ../shared, never copied).

Both work in a scratch SQLite database of their own, not the test database: the tests only lift pytest-django's
block on database access."""

import json

import pytest
from django.core.management import call_command


@pytest.fixture
def clef_like(tmp_path):
    claims = [
        {"vclaim_id": "0", "vclaim": "Vaccines cause autism in children.", "title": "Do Vaccines Cause Autism?"},
        {"vclaim_id": "1", "vclaim": "A shark swam on a flooded highway in Houston.", "title": "Shark on the Highway?"},
        {"vclaim_id": "2", "vclaim": "Drinking bleach cures the flu.", "title": "Does Bleach Cure Flu?"},
    ]
    queries = [
        {
            "query_id": "q1",
            "split": "dev",
            "text": "My kid got vaccinated and now autism?!",
            "relevant_vclaim_ids": ["0"],
        },
        {
            "query_id": "q2",
            "split": "dev",
            "text": "Sharks swimming on the highway https://t.co/x",
            "relevant_vclaim_ids": ["1"],
        },
        {"query_id": "q3", "split": "test", "text": "bleach flu cure @doc", "relevant_vclaim_ids": ["2"]},
    ]
    vclaims, qfile = tmp_path / "vclaims.jsonl", tmp_path / "queries.jsonl"
    vclaims.write_text("\n".join(json.dumps(c) for c in claims))
    qfile.write_text("\n".join(json.dumps(q) for q in queries))
    return vclaims, qfile


def test_eval_search_prints_both_measures(clef_like, capsys, django_db_blocker):
    vclaims, queries = clef_like
    with django_db_blocker.unblock():
        call_command("eval_search", "--vclaims", str(vclaims), "--queries", str(queries), "--json")
    figures = json.loads(capsys.readouterr().out)
    assert {"map5", "recall5", "bm25_map5", "bm25_recall5", "queries"} <= set(figures)
    assert figures["queries"] == 3
    assert figures["map5"] == 1.0 and figures["recall5"] == 1.0


def test_eval_search_split_and_missing_file(clef_like, capsys, tmp_path, django_db_blocker):
    from django.core.management.base import CommandError

    vclaims, queries = clef_like
    with django_db_blocker.unblock():
        call_command("eval_search", "--vclaims", str(vclaims), "--queries", str(queries), "--split", "dev", "--json")
    assert json.loads(capsys.readouterr().out)["queries"] == 2
    with pytest.raises(CommandError):
        call_command("eval_search", "--vclaims", str(tmp_path / "none.jsonl"), "--queries", str(queries))


def test_bench_search_small(capsys, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("bench_search", "--debunks", "300", "--queries", "40", "--json")
    figures = json.loads(capsys.readouterr().out)
    assert figures["debunks"] == 300 and figures["queries"] == 40
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]
