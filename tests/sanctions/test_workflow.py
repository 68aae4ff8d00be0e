"""People decide: reviewers apply, a second reviewer approves the heavy measures, appeals are decided by
someone who took no part; every decision is audited and queued for the platform; expiry is idempotent."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.core.roles import REVIEWER
from debunk.sanctions import services as svc
from debunk.sanctions.models import Measure, Organization, OrganizationMember, Sanction, SanctionNotice
from tests.factories import UserFactory
from tests.sanctions.conftest import account, trace_with_origin

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer3(db):
    return UserFactory(username="reviewer3", roles=[REVIEWER])


@pytest.fixture
def warning(rumor, platform_a, checker):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=10)
    return svc.sanction_recommend(rumor=rumor, platform=platform_a, author_hash=account("a"), by=checker)


@pytest.fixture
def closure(warning):
    return warning  # applied with measure=closure by the tests


def actions(sanction):
    events = AuditEvent.objects.filter(target_id=str(sanction.pk), action__startswith="sanction.").order_by("pk")
    return list(events.values_list("action", flat=True))


def test_a_fact_checker_cannot_apply(warning, checker):
    with pytest.raises(PermissionDenied):
        svc.sanction_apply(sanction=warning, by=checker)
    warning.refresh_from_db()
    assert warning.status == Sanction.Status.RECOMMENDED


def test_a_reviewer_applies_a_warning_at_once_and_the_platform_is_told(warning, reviewer):
    svc.sanction_apply(sanction=warning, by=reviewer)
    warning.refresh_from_db()
    assert warning.status == Sanction.Status.ACTIVE and warning.applied_by == reviewer
    assert warning.approved_at is not None and warning.ends_at is None
    assert actions(warning) == ["sanction.recommend", "sanction.apply"]
    notice = SanctionNotice.objects.get(sanction=warning)
    assert notice.event == "sanction.applied" and notice.payload["data"]["sanction"]["status"] == "active"


def test_changing_the_recommended_measure_needs_a_reason(warning, reviewer):
    with pytest.raises(ValidationError):
        svc.sanction_apply(sanction=warning, by=reviewer, measure=Measure.RESTRICTION, days=3)
    svc.sanction_apply(sanction=warning, by=reviewer, measure=Measure.RESTRICTION, days=3, reason="多次转发")
    assert warning.ends_at - warning.approved_at == timedelta(days=3)


def test_closure_needs_a_second_different_reviewer(closure, reviewer, reviewer2):
    svc.sanction_apply(sanction=closure, by=reviewer, measure=Measure.CLOSURE, days=None, reason="情节严重")
    assert closure.status == Sanction.Status.PENDING_APPROVAL
    assert not SanctionNotice.objects.exists()  # nothing is effective yet
    with pytest.raises(PermissionDenied):
        svc.sanction_approve(sanction=closure, by=reviewer)
    closure.refresh_from_db()
    assert closure.status == Sanction.Status.PENDING_APPROVAL
    svc.sanction_approve(sanction=closure, by=reviewer2)
    assert closure.status == Sanction.Status.ACTIVE and closure.approved_by == reviewer2
    assert actions(closure)[-2:] == ["sanction.apply", "sanction.approve"]


@pytest.mark.parametrize("measure", [Measure.BLACKLIST, Measure.REGISTRATION_BAN])
def test_blacklist_and_registration_ban_need_four_eyes_too(warning, reviewer, measure):
    svc.sanction_apply(sanction=warning, by=reviewer, measure=measure, days=None, reason="首发严重谣言")
    assert warning.status == Sanction.Status.PENDING_APPROVAL


def test_a_fact_checker_cannot_approve_or_lift(closure, reviewer, checker):
    svc.sanction_apply(sanction=closure, by=reviewer, measure=Measure.CLOSURE, days=None, reason="x")
    with pytest.raises(PermissionDenied):
        svc.sanction_approve(sanction=closure, by=checker)
    with pytest.raises(PermissionDenied):
        svc.sanction_lift(sanction=closure, by=checker, reason="x")


def test_the_applier_cannot_dismiss_its_own_pending_application(closure, reviewer, reviewer2):
    svc.sanction_apply(sanction=closure, by=reviewer, measure=Measure.CLOSURE, days=None, reason="x")
    with pytest.raises(PermissionDenied):
        svc.sanction_dismiss(sanction=closure, by=reviewer, reason="改主意")
    svc.sanction_dismiss(sanction=closure, by=reviewer2, reason="证据不足")
    assert closure.status == Sanction.Status.DISMISSED


def test_applying_twice_is_refused(warning, reviewer):
    svc.sanction_apply(sanction=warning, by=reviewer)
    with pytest.raises(ValidationError):
        svc.sanction_apply(sanction=warning, by=reviewer)


def test_lifting_needs_a_reason_and_tells_the_platform(warning, reviewer):
    svc.sanction_apply(sanction=warning, by=reviewer)
    with pytest.raises(ValidationError):
        svc.sanction_lift(sanction=warning, by=reviewer, reason=" ")
    svc.sanction_lift(sanction=warning, by=reviewer, reason="误判")
    assert warning.status == Sanction.Status.LIFTED
    assert list(SanctionNotice.objects.order_by("pk").values_list("event", flat=True)) == [
        "sanction.applied",
        "sanction.lifted",
    ]


def appealed(sanction, platform):
    return svc.sanction_appeal_submit(sanction=sanction, platform=platform, text="用户称系转载官方消息")


def test_an_appeal_is_not_decided_by_the_applier_or_the_approver(closure, reviewer, reviewer2, reviewer3, platform_a):
    svc.sanction_apply(sanction=closure, by=reviewer, measure=Measure.CLOSURE, days=None, reason="x")
    svc.sanction_approve(sanction=closure, by=reviewer2)
    appealed(closure, platform_a)
    for judge in (reviewer, reviewer2):
        with pytest.raises(PermissionDenied):
            svc.sanction_appeal_decide(sanction=closure, by=judge, uphold=False, reason="x")
    svc.sanction_appeal_decide(sanction=closure, by=reviewer3, uphold=False, reason="确系转载，撤销")
    closure.refresh_from_db()
    assert closure.status == Sanction.Status.OVERTURNED and closure.appeal == Sanction.Appeal.OVERTURNED
    assert "sanction.appeal.overturn" in actions(closure)
    assert SanctionNotice.objects.filter(event="sanction.appeal_overturned").exists()


def test_an_upheld_appeal_keeps_the_sanction(warning, reviewer, reviewer2, platform_a):
    svc.sanction_apply(sanction=warning, by=reviewer)
    appealed(warning, platform_a)
    with pytest.raises(ValidationError):
        appealed(warning, platform_a)  # once
    svc.sanction_appeal_decide(sanction=warning, by=reviewer2, uphold=True, reason="维持")
    assert warning.status == Sanction.Status.ACTIVE and warning.appeal == Sanction.Appeal.UPHELD
    with pytest.raises(ValidationError):
        svc.sanction_appeal_decide(sanction=warning, by=reviewer2, uphold=False, reason="again")


def test_a_recommendation_cannot_be_appealed_and_a_fact_checker_cannot_decide(warning, reviewer, checker, platform_a):
    with pytest.raises(ValidationError):
        appealed(warning, platform_a)
    svc.sanction_apply(sanction=warning, by=reviewer)
    appealed(warning, platform_a)
    with pytest.raises(PermissionDenied):
        svc.sanction_appeal_decide(sanction=warning, by=checker, uphold=True, reason="x")


def test_expiry_ends_time_limited_measures_once(warning, reviewer, reviewer2, checker):
    svc.sanction_apply(sanction=warning, by=reviewer, measure=Measure.RESTRICTION, days=15, reason="x")
    later = timezone.now() + timedelta(days=16)
    for nobody in (None, checker):  # expiry names who ended it, and that one may
        with pytest.raises(PermissionDenied):
            svc.sanctions_expire(by=nobody, now=later)
    assert svc.sanctions_expire(by=reviewer2, now=timezone.now()) == 0
    assert svc.sanctions_expire(by=reviewer2, now=later) == 1
    assert svc.sanctions_expire(by=reviewer2, now=later) == 0
    warning.refresh_from_db()
    assert warning.status == Sanction.Status.EXPIRED
    assert actions(warning)[-1] == "sanction.expire"
    assert AuditEvent.objects.get(action="sanction.expire").actor == reviewer2
    assert SanctionNotice.objects.filter(event="sanction.expired").count() == 1


def test_a_joint_measure_records_one_sanction_per_member(platform_a, platform_b, reviewer, reviewer2, checker):
    organization = Organization.objects.create(name="某MCN")
    for platform, name in [(platform_a, "m1"), (platform_a, "m2"), (platform_b, "m3")]:
        OrganizationMember.objects.create(organization=organization, platform=platform, author_hash=account(name))
    with pytest.raises(PermissionDenied):
        svc.organization_sanction(organization=organization, measure="restriction", days=7, by=checker, reason="x")
    made = svc.organization_sanction(
        organization=organization, measure=Measure.RESTRICTION, days=7, by=reviewer, reason="协同造谣"
    )
    assert len(made) == 3 and {s.status for s in made} == {Sanction.Status.ACTIVE}
    assert {s.organization_id for s in made} == {organization.pk}
    assert AuditEvent.objects.filter(action="sanction.joint").count() == 3
    assert svc.organization_summary(organization=organization) == {
        "members": 3,
        "sanctions": 3,
        "by_measure": {"restriction": 3},
    }


def test_typical_cases_are_chosen_by_reviewers(warning, reviewer, checker):
    with pytest.raises(PermissionDenied):
        svc.sanction_mark_typical(sanction=warning, by=checker, typical=True)
    with pytest.raises(ValidationError):
        svc.sanction_mark_typical(sanction=warning, by=reviewer, typical=True)  # not applied yet
    svc.sanction_apply(sanction=warning, by=reviewer)
    svc.sanction_mark_typical(sanction=warning, by=reviewer, typical=True, summary="某账号首发停水谣言")
    warning.refresh_from_db()
    assert warning.typical_case and warning.case_summary == "某账号首发停水谣言"


def test_the_beat_tasks_expire_and_send(warning, reviewer, settings):
    from debunk.sanctions.tasks import deliver_sanction_notices, expire_sanctions

    svc.sanction_apply(sanction=warning, by=reviewer, measure=Measure.RESTRICTION, days=1, reason="x")
    Sanction.objects.filter(pk=warning.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert expire_sanctions.delay().get() == 1
    assert expire_sanctions.delay().get() == 0
    event = AuditEvent.objects.get(action="sanction.expire")
    assert event.actor.username == "system-scheduler" and not event.actor.has_usable_password()
    assert deliver_sanction_notices.delay().get() == 2  # applied + expired, both waiting for an endpoint
    assert set(SanctionNotice.objects.values_list("last_response", flat=True)) == {"no active endpoint"}


def test_a_rule_that_sets_needs_a_measure():
    from debunk.sanctions.models import SanctionRule

    with pytest.raises(ValidationError):
        SanctionRule(name="x", effect="set", measure="").full_clean()
    with pytest.raises(ValidationError):
        SanctionRule(name="x", measure="warning", min_reach=10, max_reach=5).full_clean()
