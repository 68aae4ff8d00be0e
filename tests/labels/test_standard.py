"""The classification standard: seeded, exported and re-imported as JSON, with its history kept."""

import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from debunk.core.models import AuditEvent
from debunk.core.roles import operator_user
from labels.models import Category, VerdictLabel
from labels.standard import load_seed, standard_export, standard_import, standard_seed

IMPORT_ACTIONS = ["category.create", "category.update", "verdict.create", "verdict.update"]


def test_seed_has_required_codes_and_tiers(db):
    assert set(VerdictLabel.objects.values_list("code", flat=True)) >= {
        "false",
        "inaccurate",
        "misleading",
        "partly_true",
        "unverified",
        "true",
    }
    false = VerdictLabel.objects.get(code="false")
    assert (false.text_zh, false.default_action, false.claimreview_rating) == ("谣言", "block", "False")
    assert Category.objects.get(code="heroes_martyrs").tier == 1
    assert Category.objects.get(code="epidemics").parent.code == "public_emergencies"
    assert Category.objects.get(code="defamation").parent.code == "cyber_violence"
    assert Category.objects.get(code="economy").tier == 3


def test_localized_names_follow_the_active_language(db):
    from django.utils import translation

    cat = Category.objects.get(code="transport")
    with translation.override("en"):
        assert cat.name == "Transport"
    with translation.override("zh-hans"):
        assert cat.name == "交通运输"


def test_export_import_round_trip_and_update(db, tmp_path):
    path = tmp_path / "standard.json"
    call_command("labels_export", "--output", str(path), stderr=StringIO())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == standard_export()
    data["categories"].append(
        {
            "code": "finance_scams",
            "parent": "economy",
            "name_zh": "金融诈骗",
            "name_en": "Financial scams",
            "tier": 3,
            "review_deadline_hours": 12,
            "position": 44,
        }
    )
    data["verdicts"][0]["colour"] = "#123456"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = StringIO()
    call_command("labels_import", str(path), stdout=out)
    assert "1 created" in out.getvalue()
    assert Category.objects.get(code="finance_scams").parent.code == "economy"
    changed = VerdictLabel.objects.get(code=data["verdicts"][0]["code"])
    assert changed.colour == "#123456"
    assert changed.history.count() >= 1  # simple-history keeps the change


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["categories"].append({"code": "x", "parent": "nowhere", "name_zh": "x", "name_en": "x"}),
            "unknown or circular parent",
        ),
        (lambda d: d["verdicts"].append({**d["verdicts"][0], "code": "bad", "colour": "red"}), "colour"),
        (
            lambda d: d["verdicts"].append({**d["verdicts"][0], "code": "bad2", "default_action": "delete"}),
            "default_action",
        ),
        (lambda d: d.update(categories="nope"), "must be a list"),
    ],
)
def test_bad_standard_is_refused_whole(db, tmp_path, mutate, message):
    data = standard_export()
    data["categories"][0]["name_en"] = "Changed before the error"
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("labels_import", str(path), stdout=StringIO())
    assert (
        Category.objects.get(
            code=data["categories"][0]["code"] if isinstance(data["categories"], list) else "major_events"
        ).name_en
        != "Changed before the error"
    )


def test_import_of_non_json_is_a_clear_error(db, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{oops", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("labels_import", str(path))


def test_the_import_is_audited_per_record_written_as_the_operator(db, tmp_path):
    data = standard_export()
    data["categories"].append({**data["categories"][-1], "code": "finance_scams", "name_en": "Financial scams"})
    changed_code, old_colour = data["verdicts"][0]["code"], data["verdicts"][0]["colour"]
    data["verdicts"][0]["colour"] = "#123456"
    path = tmp_path / "standard.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = StringIO()
    call_command("labels_import", str(path), stdout=out)
    unchanged = len(data["categories"]) + len(data["verdicts"]) - 2
    assert f"1 created, 1 updated, {unchanged} unchanged." in out.getvalue()
    operator = operator_user()
    events = AuditEvent.objects.filter(action__in=IMPORT_ACTIONS).order_by("pk")
    assert [(e.action, e.actor) for e in events] == [
        ("category.create", operator),
        ("verdict.update", operator),
    ]
    created, updated = events
    assert created.changes["code"] == [None, "finance_scams"]
    assert updated.changes == {"colour": [old_colour, "#123456"]}
    verdict = VerdictLabel.objects.get(code=changed_code)
    assert verdict.history.latest("history_date").history_user == operator
    # The same file again changes nothing and writes no event.
    call_command("labels_import", str(path), stdout=StringIO())
    assert AuditEvent.objects.filter(action__in=IMPORT_ACTIONS).count() == 2


def test_the_import_service_needs_the_permissions_and_writes_nothing_without(db, checker):
    data = standard_export()
    data["verdicts"][0]["colour"] = "#123456"
    with pytest.raises(PermissionDenied):
        standard_import(data=data, by=checker)
    with pytest.raises(PermissionDenied):
        standard_import(data=data, by=None)
    assert VerdictLabel.objects.get(code=data["verdicts"][0]["code"]).colour != "#123456"
    assert not AuditEvent.objects.filter(action__in=IMPORT_ACTIONS).exists()


def test_the_plain_seed_path_writes_without_audit_events(db):
    Category.objects.filter(parent__isnull=False).delete()
    counts = standard_seed(load_seed(), Category, VerdictLabel)
    assert counts["created"] > 0 and Category.objects.get(code="epidemics").parent.code == "public_emergencies"
    assert not AuditEvent.objects.filter(action__in=IMPORT_ACTIONS).exists()
