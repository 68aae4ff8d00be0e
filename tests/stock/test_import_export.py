"""import_rumors / export_rumors: the JSONL format, bad lines, idempotence and round trips."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from debunk.core.models import AuditEvent
from debunk.stock.models import Debunk, Rumor, RumorVariant

GOOD = {
    "external_id": "t-1",
    "claim": "网传某地地震后水库溃坝",
    "verdict": "false",
    "category": "natural_disasters",
    "debunk_title": "水库溃坝系谣言",
    "debunk_body": "经**水利局**核实，水库运行正常。",
    "variants": ["某地水库溃坝了！"],
    "source_url": "https://weibo.example.com/status/1",
}


def write(tmp_path, *records, raw: list[str] | None = None):
    path = tmp_path / "rumors.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + (raw or [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_rumors", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_creates_rumor_with_debunk_variant_and_source(db, tmp_path):
    out, _ = run(write(tmp_path, GOOD))
    assert "1 created" in out
    rumor = Rumor.objects.get(external_id="t-1")
    assert (rumor.status, rumor.verdict.code, rumor.category.code) == ("draft", "false", "natural_disasters")
    assert [v.text for v in rumor.variants.all()] == ["某地水库溃坝了！"]
    assert rumor.sources.get().url == GOOD["source_url"]
    debunk = rumor.debunks.get()
    assert debunk.summary == "经水利局核实，水库运行正常。"  # derived from the body when not given
    assert rumor.created_by.username == "system-importer"


def test_reimport_updates_instead_of_duplicating(db, tmp_path):
    run(write(tmp_path, GOOD))
    changed = {**GOOD, "claim": "网传某地水库溃坝，下游村庄被淹", "variants": ["某地水库溃坝了！", "下游被淹"]}
    out, _ = run(write(tmp_path, changed))
    assert "0 created, 1 updated" in out
    assert Rumor.objects.count() == 1
    assert Rumor.objects.get().claim == changed["claim"]
    assert RumorVariant.objects.count() == 2
    assert Debunk.objects.count() == 1


def test_publish_uses_a_second_system_account(db, tmp_path):
    out, _ = run(write(tmp_path, GOOD), "--publish")
    rumor = Rumor.objects.get()
    assert rumor.status == Rumor.Status.PUBLISHED
    assert rumor.reviewed_by.username == "system-reviewer"
    assert rumor.created_by != rumor.reviewed_by
    assert "1 published" in out


BAD_LINES = [
    ("{not json", "not valid JSON"),
    (json.dumps({**GOOD, "external_id": "b1", "claim": "  "}), "'claim' is required"),
    (json.dumps({**GOOD, "external_id": "b2", "verdict": "fake-news"}), "unknown verdict 'fake-news'"),
    (json.dumps({**GOOD, "external_id": "b3", "category": "sports"}), "unknown category 'sports'"),
    (json.dumps({**GOOD, "external_id": "b4", "severity": 9}), "'severity' must be an integer from 1 to 5"),
    (json.dumps({**GOOD, "external_id": "b5", "source_url": "javascript:alert(1)"}), "not an http(s) URL"),
    (json.dumps({**GOOD, "external_id": "b6", "variants": "one"}), "'variants' must be a list"),
    (json.dumps({**GOOD, "external_id": "b7", "debunk_body": ""}), "go together"),
    (json.dumps([1, 2]), "must be a JSON object"),
    (json.dumps({**GOOD, "external_id": "b8", "colour": "red"}), "unknown field(s): colour"),
]


@pytest.mark.parametrize("line, message", BAD_LINES)
def test_each_bad_line_is_reported_with_its_number_and_nothing_is_imported(db, tmp_path, line, message):
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported: 1 invalid line"):
        call_command("import_rumors", write(tmp_path, GOOD, raw=[line]), stderr=err, stdout=StringIO())
    reported = err.getvalue()
    assert reported.startswith("line 2: ")
    assert message in reported
    assert Rumor.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_skip_invalid_imports_the_good_lines(db, tmp_path):
    path = write(tmp_path, GOOD, raw=[BAD_LINES[1][0]])
    out, err = run(path, "--skip-invalid")
    assert "1 created" in out and "1 skipped" in out
    assert "line 2:" in err
    assert Rumor.objects.count() == 1


def test_publish_requires_a_debunk_on_every_line(db, tmp_path):
    no_debunk = {k: v for k, v in GOOD.items() if not k.startswith("debunk")}
    with pytest.raises(CommandError):
        run(write(tmp_path, no_debunk), "--publish")
    assert Rumor.objects.count() == 0


def test_defaults_from_options(db, tmp_path):
    run(write(tmp_path, {"claim": "无结论的说法"}), "--verdict", "unverified", "--category", "society")
    rumor = Rumor.objects.get()
    assert (rumor.verdict.code, rumor.category.code) == ("unverified", "society")


def test_duplicate_external_id_in_one_file_is_an_error(db, tmp_path):
    with pytest.raises(CommandError):
        run(write(tmp_path, GOOD, GOOD))
    assert Rumor.objects.count() == 0


def test_missing_file_and_non_utf8_are_clear_errors(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(tmp_path / "nope.jsonl"))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"claim": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run(str(latin))


def test_export_then_reimport_round_trips(db, tmp_path):
    run(write(tmp_path, GOOD, {**GOOD, "external_id": "t-2", "claim": "另一条谣言", "variants": []}), "--publish")
    out = tmp_path / "export.jsonl"
    call_command("export_rumors", "--output", str(out))
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["external_id"] for r in exported] == ["t-1", "t-2"]
    assert exported[0]["debunk_title"] == GOOD["debunk_title"]
    assert exported[0]["variants"] == GOOD["variants"]
    before = AuditEvent.objects.count()
    stdout, _ = run(str(out))
    assert "0 created, 2 updated" in stdout
    assert Rumor.objects.count() == 2
    assert AuditEvent.objects.count() == before  # nothing changed, nothing recorded


def test_load_demo_is_idempotent(db):
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    counts = (Rumor.objects.count(), Debunk.objects.count(), RumorVariant.objects.count())
    assert counts[0] == 50
    assert Rumor.objects.live().count() == 50
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    assert (Rumor.objects.count(), Debunk.objects.count(), RumorVariant.objects.count()) == counts
