"""calibrate_thresholds: per-label claim thresholds by cross-validation, written (with provenance and an audit event)
only with --apply, nothing written on bad input."""

import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from debunk.core.models import AuditEvent
from debunk.matching import calibration
from labels.models import VerdictLabel
from tests.matching.claim_standin import bigram_scores

TOPICS = [
    "某市自来水厂被污染明天起全市停水三天",
    "吃大蒜可以预防新冠病毒感染专家建议每天生吃",
    "某地高速公路明天起永久免费通行不收费",
    "喝板蓝根能治愈所有流感患者无需就医",
    "某小学食堂饭菜里发现老鼠家长集体抗议",
    "银行卡明天起全部冻结需要重新激活才能使用",
    "手机充电时接电话会爆炸已经有人受伤",
    "微信明年开始收费每月十元不交就封号",
    "某品牌奶粉检出三聚氰胺婴儿食用后住院",
    "地铁票价下月上涨一倍市民出行成本大增",
    "某医院医生偷卖器官被警方当场抓获",
    "台风将在今晚登陆全市停课停工两天",
]
REAL_CLAIM_CANDIDATES = calibration.claim_candidates
OTHER = "今天天气很好我们一家人去公园散步看到很多人在放风筝"


@pytest.fixture(autouse=True)
def fake_claim_index(monkeypatch):
    monkeypatch.setattr(calibration, "claim_candidates", bigram_scores)


def record(n: int, topic: str, **extra) -> dict:
    return {
        "rumor_id": f"zh:{n}",
        "lang": "zh",
        "rumor_text": "网传" + topic + "，请转发",
        "positives": [{"text": "听说" + topic + "是真的吗"}, {"text": topic[: len(topic) // 2 + 3] + "！！"}],
        "negatives": [{"text": OTHER + str(n)}, {"text": TOPICS[(n + 1) % len(TOPICS)][:4] + OTHER}],
        **extra,
    }


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(record(n, t), ensure_ascii=False) for n, t in enumerate(TOPICS)) + "\n")
    return path


def run(*args: str) -> dict:
    out = StringIO()
    call_command("calibrate_thresholds", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def label_state() -> list:
    return list(
        VerdictLabel.objects.order_by("code").values_list(
            "code", "claim_auto_threshold", "claim_review_threshold", "calibration"
        )
    )


def test_without_apply_nothing_is_written(db, dataset):
    before, events = label_state(), AuditEvent.objects.count()
    report = run("--dataset", str(dataset), "--folds", "3")
    assert set(report["labels"]) == {"false"}  # records without a verdict take --verdict's default
    review = report["labels"]["false"]["review"]
    assert review["threshold"] is not None and review["precision"] >= 0.95
    assert 0 < review["recall"] <= 1 and len(review["fold_thresholds"]) == 3
    assert report["applied"] is False
    assert label_state() == before and AuditEvent.objects.count() == events


def test_apply_writes_thresholds_provenance_and_an_audit_event(db, dataset):
    report = run("--dataset", str(dataset), "--folds", "3", "--apply")
    label = report["labels"]["false"]
    verdict = VerdictLabel.objects.get(code="false")
    assert verdict.claim_review_threshold == label["review"]["threshold"]
    assert verdict.claim_auto_threshold == label["auto"]["threshold"]  # a number, or None when < 0.98 held out
    if label["auto"]["threshold"] is not None:
        assert label["auto"]["precision"] >= 0.98
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()
    for field in ("claim_review_threshold", "claim_auto_threshold"):
        entry = verdict.calibration[field]
        assert entry["command"] == "calibrate_thresholds"
        assert entry["dataset"] == f"pairs.jsonl sha256:{digest}"
        assert entry["folds"] == 3 and "at" in entry
    assert verdict.calibration["claim_review_threshold"]["precision"] == label["review"]["precision"]
    assert verdict.calibration["claim_review_threshold"]["recall"] == label["review"]["recall"]
    event = AuditEvent.objects.get(action="verdict.calibrate")
    assert event.target_id == str(verdict.pk) and "calibration" in event.changes
    other = VerdictLabel.objects.exclude(code="false").first()
    assert other.calibration == {}  # labels without records are left alone


def test_records_carry_their_own_label(db, tmp_path):
    lines = [record(n, t, verdict="misleading" if n % 2 else "false") for n, t in enumerate(TOPICS)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines))
    assert set(run("--dataset", str(path), "--folds", "2")["labels"]) == {"false", "misleading"}


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "Cannot read the dataset"),
        ('{"rumor_id": "zh:1", "rumor_text": "x", "positives": [{"text": "x"}]}\n{not json\n', "malformed line"),
        (
            '{"rumor_id": "zh:1", "rumor_text": "某地停水", "negatives": [{"text": "天气"}]}\n',
            "no record has a positive",
        ),
        ("\n\n", "no record to calibrate on"),
        ('{"rumor_id": "zh:1", "rumor_text": "x", "verdict": "nonsense", "positives": [{"text": "x"}]}', "nonsense"),
    ],
)
def test_bad_input_is_a_command_error_and_writes_nothing(db, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    before, events = label_state(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match=message):
        run("--dataset", str(path), "--apply")
    assert label_state() == before and AuditEvent.objects.count() == events


def test_strata_filter(db, dataset):
    with pytest.raises(CommandError, match="no record to calibrate on"):
        run("--dataset", str(dataset), "--stratum", "clef2020")
    assert run("--dataset", str(dataset), "--stratum", "zh", "--folds", "2")["strata"] == ["zh"]


def test_bad_options(db, dataset):
    for args in (["--folds", "1"], ["--target-precision", "0"], ["--auto-precision", "1.5"]):
        with pytest.raises(CommandError):
            run("--dataset", str(dataset), *args)


def test_with_the_real_claim_index(db, dataset, monkeypatch):
    """The same run on debunk.matching.claims.ClaimIndex: the rewordings are found above the unrelated posts."""
    monkeypatch.setattr(calibration, "claim_candidates", REAL_CLAIM_CANDIDATES)
    review = run("--dataset", str(dataset), "--folds", "3")["labels"]["false"]["review"]
    assert review["threshold"] is not None and review["recall"] > 0.5 and review["precision"] >= 0.9


def test_the_labels_service_refuses_bad_thresholds_and_writes_nothing(db):
    from django.core.exceptions import ValidationError

    from debunk.core.roles import operator_user
    from labels.services import verdict_calibrate

    verdict = VerdictLabel.objects.get(code="false")
    before, events = label_state(), AuditEvent.objects.count()
    for thresholds in (
        {"claim_review_threshold": 0.9, "claim_auto_threshold": 0.5},  # review above auto
        {"claim_review_threshold": 1.5},
        {"claim_review_threshold": None},
        {"match_auto_threshold": 0.9},  # not the calibration's to set
    ):
        with pytest.raises(ValidationError):
            verdict_calibrate(verdict=verdict, by=operator_user(), thresholds=thresholds, calibration={})
    assert label_state() == before and AuditEvent.objects.count() == events
