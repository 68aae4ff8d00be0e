"""The rules engine: figures gathered from traces, the archive, earlier sanctions and MCN membership; the seeded
default rules; the heaviest `set` rule wins and `escalate` rules move it up the ladder."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.matching.models import Post
from debunk.sanctions import services as svc
from debunk.sanctions.models import Measure, Organization, OrganizationMember, Sanction, SanctionRule
from labels.models import Category
from tests.factories import publish_rumor
from tests.sanctions.conftest import account, trace_with_origin

pytestmark = pytest.mark.django_db


def recommend(rumor, platform, who, by):
    return svc.sanction_recommend(rumor=rumor, platform=platform, author_hash=who, by=by)


def test_the_default_rules_are_seeded_in_order():
    names = list(SanctionRule.objects.values_list("position", "effect"))
    assert names == sorted(names)
    assert len(names) == 7


def test_small_reach_first_poster_gets_a_warning_with_the_rule_and_figures(rumor, platform_a, checker):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=50)
    sanction = recommend(rumor, platform_a, account("a"), checker)
    assert sanction.status == Sanction.Status.RECOMMENDED
    assert sanction.measure == Measure.WARNING
    assert sanction.rule.name.startswith("Reach ≤ 100")
    assert sanction.inputs["first_poster"] is True and sanction.inputs["reach"] == 50
    assert sanction.inputs["severity"] == 3 and sanction.inputs["verdict"] == "false"
    assert [m["id"] for m in sanction.matched_rules] == [sanction.rule_id]
    assert AuditEvent.objects.filter(action="sanction.recommend", target_id=str(sanction.pk)).exists()


def test_large_reach_gets_a_15_day_restriction(rumor, platform_a, checker):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=1500)
    sanction = recommend(rumor, platform_a, account("a"), checker)
    assert (sanction.measure, sanction.days) == (Measure.RESTRICTION, 15)


def test_first_poster_of_a_severe_rumor_is_blacklisted(checker, reviewer, platform_a):
    rumor = publish_rumor(checker, reviewer, severity=4)
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=10)
    assert recommend(rumor, platform_a, account("a"), checker).measure == Measure.BLACKLIST


def test_first_poster_of_a_false_tier1_rumor_is_blacklisted(checker, reviewer, platform_a):
    assert Category.objects.get(code="major_events").tier == 1
    rumor = publish_rumor(checker, reviewer, severity=2, category="major_events")
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=10)
    sanction = recommend(rumor, platform_a, account("a"), checker)
    assert sanction.measure == Measure.BLACKLIST
    assert "tier-1" in sanction.rule.name


def test_a_repeat_offender_goes_one_step_up(rumor, platform_a, checker, reviewer, reviewer2):
    who = account("a")
    Sanction.objects.create(
        platform=platform_a,
        author_hash=who,
        measure=Measure.WARNING,
        recommended_measure=Measure.WARNING,
        status=Sanction.Status.EXPIRED,
        approved_at=timezone.now() - timedelta(days=30),
    )
    trace_with_origin(rumor, platform_a, who, subtree_size=5)
    sanction = recommend(rumor, platform_a, who, checker)
    assert (sanction.measure, sanction.days) == (Measure.RESTRICTION, 7)
    assert sanction.inputs["prior_offences"] == {"90": 1}
    assert sanction.rule.measure == Measure.WARNING  # the rule that set the base; the escalation is in matched_rules
    assert any(m["effect"] == "escalate" for m in sanction.matched_rules)


def test_an_offence_outside_the_window_or_overturned_does_not_count(rumor, platform_a, checker):
    who = account("a")
    for status, days_ago in [(Sanction.Status.EXPIRED, 200), (Sanction.Status.OVERTURNED, 10)]:
        Sanction.objects.create(
            platform=platform_a,
            author_hash=who,
            measure=Measure.WARNING,
            recommended_measure=Measure.WARNING,
            status=status,
            approved_at=timezone.now() - timedelta(days=days_ago),
        )
    trace_with_origin(rumor, platform_a, who, subtree_size=5)
    assert recommend(rumor, platform_a, who, checker).measure == Measure.WARNING


def test_an_mcn_account_goes_one_step_up(rumor, platform_a, checker):
    who = account("a")
    OrganizationMember.objects.create(
        organization=Organization.objects.create(name="某传媒"), platform=platform_a, author_hash=who
    )
    trace_with_origin(rumor, platform_a, who, subtree_size=1500)
    sanction = recommend(rumor, platform_a, who, checker)
    assert sanction.measure == Measure.PM_SUSPENSION and sanction.days == 15
    assert sanction.inputs["organization_id"] is not None


def test_an_amplifier_is_measured_by_the_reposts_of_its_posts(rumor, platform_a, checker):
    from debunk.matching.models import Match

    who = account("amplifier")
    post = Post.objects.create(platform=platform_a, platform_post_id="amp", text=rumor.claim, author_hash=who)
    Match.objects.create(post=post, rumor=rumor, similarity=1.0, containment=1.0, status=Match.Status.AUTO)
    for i in range(120):
        Post.objects.create(platform=platform_a, platform_post_id=f"r{i}", text="转发", parent=post)
    sanction = recommend(rumor, platform_a, who, checker)
    assert sanction.inputs["first_poster"] is False and sanction.inputs["reach"] == 120
    assert (sanction.measure, sanction.days) == (Measure.RESTRICTION, 7)
    assert [a for _p, a in svc.rumor_accounts(rumor=rumor)] == [who]


def test_recommending_for_a_rumor_covers_first_posters_and_is_idempotent(rumor, platform_a, platform_b, checker):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=3)
    first = svc.sanctions_recommend_for_rumor(rumor=rumor, by=checker)
    again = svc.sanctions_recommend_for_rumor(rumor=rumor, by=checker)
    assert [s.pk for s in first] == [s.pk for s in again] and len(first) == 1
    assert Sanction.objects.count() == 1


def test_rules_are_rows_an_inactive_rule_is_ignored(rumor, platform_a, checker):
    SanctionRule.objects.filter(max_reach=100).update(is_active=False)
    SanctionRule.objects.create(position=5, name="All: PM suspension", measure=Measure.PM_SUSPENSION, days=3)
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=50)
    sanction = recommend(rumor, platform_a, account("a"), checker)
    assert (sanction.measure, sanction.days) == (Measure.PM_SUSPENSION, 3)


def test_escalation_stops_at_the_top_of_the_ladder():
    rules = [
        SanctionRule(pk=1, name="ban", measure=Measure.REGISTRATION_BAN),
        SanctionRule(pk=2, name="up", effect=SanctionRule.Effect.ESCALATE, steps=3),
    ]
    figures = svc.Figures(3, "false", "other", 3, False, 0, {}, None)
    outcome = svc.rules_evaluate(rules=rules, figures=figures)
    assert outcome.measure == Measure.REGISTRATION_BAN and outcome.rule_id == 1


def test_someone_without_the_permission_cannot_ask_for_a_recommendation(rumor, platform_a, outsider):
    with pytest.raises(PermissionDenied):
        recommend(rumor, platform_a, account("a"), outsider)


def test_the_trace_key_amplifiers_are_considered_with_their_reach(rumor, platform_a, checker):
    who = account("amp")
    trace = trace_with_origin(rumor, platform_a, account("origin"), subtree_size=3)
    trace.summary = {"amplifiers": [{"author": who, "reposts": 2, "reach": 1200, "share": 0.5}]}
    trace.save()
    Post.objects.create(platform=platform_a, platform_post_id="amp-1", text="转发", author_hash=who)
    accounts = svc.rumor_accounts(rumor=rumor)
    assert [(p.pk, a) for p, a in accounts] == [(platform_a.pk, account("origin")), (platform_a.pk, who)]
    made = svc.sanctions_recommend_for_rumor(rumor=rumor, by=checker)
    assert [(s.measure, s.inputs["reach"], s.inputs["first_poster"]) for s in made] == [
        (Measure.WARNING, 3, True),
        (Measure.RESTRICTION, 1200, False),
    ]
