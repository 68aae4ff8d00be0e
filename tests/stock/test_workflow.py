"""The rumor workflow: legal transitions, refused ones, four-eyes, and the audit trail they leave."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.stock import rumors as svc
from debunk.stock.models import Rumor
from labels.models import Category, VerdictLabel
from tests.factories import make_rumor

S = Rumor.Status


def test_full_workflow_records_each_step(checker, reviewer):
    rumor = make_rumor(checker)
    assert rumor.status == S.DRAFT
    svc.rumor_submit(rumor=rumor, by=checker)
    assert rumor.status == S.IN_REVIEW
    hours = rumor.category.review_deadline_hours
    assert abs((rumor.review_due_at - rumor.submitted_at) - timedelta(hours=hours)) < timedelta(seconds=1)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    rumor.refresh_from_db()
    assert rumor.status == S.PUBLISHED
    assert rumor.reviewed_by == reviewer
    assert rumor.debunks.get().published_at is not None
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误，重新评估")
    rumor.refresh_from_db()
    assert (rumor.status, rumor.status_reason) == (S.RETRACTED, "核实有误，重新评估")
    actions = list(
        AuditEvent.objects.filter(target_id=str(rumor.pk), target_type__model="rumor")
        .order_by("id")
        .values_list("action", "actor__username")
    )
    assert actions == [
        ("rumor.create", "checker"),
        ("rumor.submit", "checker"),
        ("rumor.publish", "reviewer"),
        ("rumor.retract", "reviewer"),
    ]
    retract = AuditEvent.objects.get(action="rumor.retract")
    assert retract.changes["status"] == ["published", "retracted"]
    assert retract.reason == "核实有误，重新评估"
    assert rumor.history.count() == 4  # simple-history keeps each version of the record too


def test_four_eyes_author_cannot_publish_own_rumor(reviewer):
    rumor = make_rumor(reviewer)
    svc.rumor_submit(rumor=rumor, by=reviewer)
    with pytest.raises(PermissionDenied, match=r"Four-eyes|双人"):
        svc.rumor_publish(rumor=rumor, by=reviewer)
    rumor.refresh_from_db()
    assert rumor.status == S.IN_REVIEW
    assert not AuditEvent.objects.filter(action="rumor.publish").exists()


def test_four_eyes_submitter_cannot_publish(checker, reviewer, reviewer2):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=reviewer)
    with pytest.raises(PermissionDenied):
        svc.rumor_publish(rumor=rumor, by=reviewer)
    svc.rumor_publish(rumor=rumor, by=reviewer2)
    assert rumor.status == S.PUBLISHED


def test_fact_checker_cannot_publish(checker):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    with pytest.raises(PermissionDenied):
        svc.rumor_publish(rumor=rumor, by=checker)


def test_publishing_without_debunk_is_refused(checker, reviewer):
    rumor = make_rumor(checker, with_debunk=False)
    svc.rumor_submit(rumor=rumor, by=checker)
    with pytest.raises(ValidationError) as exc:
        svc.rumor_publish(rumor=rumor, by=reviewer)
    assert exc.value.code == "no_debunk"
    rumor.refresh_from_db()
    assert rumor.status == S.IN_REVIEW


@pytest.mark.parametrize(
    "setup, action",
    [
        ([], "publish"),  # draft → published skips review
        ([], "retract"),  # a draft cannot be retracted
        (["submit"], "submit"),  # already in review
        (["submit", "publish"], "submit"),
        (["submit", "publish", "retract"], "publish"),  # retracted → published must go through draft and review
    ],
)
def test_illegal_transitions_are_refused(checker, reviewer, setup, action):
    rumor = make_rumor(checker)
    steps = {
        "submit": lambda: svc.rumor_submit(rumor=rumor, by=checker),
        "publish": lambda: svc.rumor_publish(rumor=rumor, by=reviewer),
        "retract": lambda: svc.rumor_retract(rumor=rumor, by=reviewer, reason="r"),
    }
    for step in setup:
        steps[step]()
    status_before = rumor.status
    events_before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        steps[action]()
    assert exc.value.code == "illegal_transition"
    rumor.refresh_from_db()
    assert rumor.status == status_before
    assert AuditEvent.objects.count() == events_before


def test_retract_and_return_need_a_reason(checker, reviewer):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    with pytest.raises(ValidationError):
        svc.rumor_return(rumor=rumor, by=reviewer, reason="   ")
    svc.rumor_return(rumor=rumor, by=reviewer, reason="请补充权威来源")
    assert rumor.status == S.DRAFT
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    with pytest.raises(ValidationError):
        svc.rumor_retract(rumor=rumor, by=reviewer, reason="")
    rumor.refresh_from_db()
    assert rumor.status == S.PUBLISHED


def test_reopen_then_republish(checker, reviewer, reviewer2):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="判定需更新")
    with pytest.raises(ValidationError):
        svc.rumor_update(rumor=rumor, by=reviewer, severity=5)
    svc.rumor_reopen(rumor=rumor, by=reviewer)
    svc.rumor_update(rumor=rumor, by=checker, verdict=VerdictLabel.objects.get(code="misleading"))
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer2)
    rumor.refresh_from_db()
    assert (rumor.status, rumor.verdict.code) == (S.PUBLISHED, "misleading")


def test_update_records_what_changed(checker):
    rumor = make_rumor(checker)
    svc.rumor_update(rumor=rumor, by=checker, severity=5, claim="新的说法")
    event = AuditEvent.objects.get(action="rumor.update")
    assert event.changes == {"claim": ["网传某市自来水厂被污染，全市停水三天", "新的说法"], "severity": [3, 5]}


def test_only_reviewers_edit_published_rumors(checker, reviewer):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    with pytest.raises(PermissionDenied):
        svc.rumor_update(rumor=rumor, by=checker, severity=1)
    svc.rumor_update(rumor=rumor, by=reviewer, severity=1)
    rumor.refresh_from_db()
    assert rumor.severity == 1


@pytest.mark.parametrize("claim", ["", "   \n "])
def test_empty_claim_is_refused_and_nothing_is_written(checker, claim):
    with pytest.raises(ValidationError) as exc:
        make_rumor(checker, claim=claim, with_debunk=False)
    assert "claim" in exc.value.message_dict
    assert Rumor.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_severity_out_of_range_is_refused(checker):
    with pytest.raises(ValidationError) as exc:
        make_rumor(checker, severity=6, with_debunk=False)
    assert "severity" in exc.value.message_dict
    assert Rumor.objects.count() == 0


def test_outsider_cannot_create(outsider):
    with pytest.raises(PermissionDenied):
        make_rumor(outsider)


def test_variants_refuse_duplicates_and_are_audited(checker):
    rumor = make_rumor(checker)
    svc.variant_add(rumor=rumor, by=checker, text="某市停水三天！快囤水")
    with pytest.raises(ValidationError):
        svc.variant_add(rumor=rumor, by=checker, text="某市停水三天！快囤水 ")
    with pytest.raises(ValidationError):
        svc.variant_add(rumor=rumor, by=checker, text=rumor.claim)
    assert rumor.variants.count() == 1
    assert AuditEvent.objects.filter(action="variant.add").count() == 1


def test_expiry_after_validity_window(checker, reviewer):
    from debunk.stock.tasks import expire_rumors

    rumor = make_rumor(checker, valid_until=timezone.now() + timedelta(hours=1))
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    assert expire_rumors() == 0
    assert Rumor.objects.live().filter(pk=rumor.pk).exists()
    Rumor.objects.filter(pk=rumor.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert not Rumor.objects.live().filter(pk=rumor.pk).exists()
    assert expire_rumors() == 1  # eager Celery in tests: the per-rumor task ran too
    rumor.refresh_from_db()
    assert rumor.status == S.EXPIRED
    assert AuditEvent.objects.filter(action="rumor.expire", actor__username="system-scheduler").exists()


def test_category_lookup_uses_seeded_standard(db):
    assert Category.objects.get(code="work_safety").parent.code == "public_emergencies"
