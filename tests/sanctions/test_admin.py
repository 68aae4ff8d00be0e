"""The sanctions admin goes through the services: recommendations by adding, decisions as actions (with the
reason from the action bar), rules editable by administrators only and audited."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from debunk.core.models import AuditEvent
from debunk.sanctions.models import Measure, Organization, OrganizationMember, Sanction, SanctionRule
from tests.sanctions.conftest import account, trace_with_origin

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/debunk/sanction/"


def act(client, url, action, ids, **fields):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(i) for i in ids], "index": "0", **fields}
    return client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE="en")


def test_adding_asks_the_rules_and_a_reviewer_applies_from_the_list(client, rumor, platform_a, checker, reviewer):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=5)
    client.force_login(checker)
    response = client.post(f"{CHANGELIST}add/", {"rumor": rumor.pk}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and b"1 recommendation(s) ready" in response.content
    sanction = Sanction.objects.get()
    assert sanction.status == Sanction.Status.RECOMMENDED and sanction.recommended_by == checker
    assert client.get(f"{CHANGELIST}{sanction.pk}/change/").status_code == 200
    act(client, CHANGELIST, "apply_selected", [sanction.pk])  # not offered to a fact-checker
    sanction.refresh_from_db()
    assert sanction.status == Sanction.Status.RECOMMENDED
    client.force_login(reviewer)
    act(client, CHANGELIST, "apply_selected", [sanction.pk], reason="")
    sanction.refresh_from_db()
    assert sanction.status == Sanction.Status.ACTIVE and sanction.applied_by == reviewer


def test_four_eyes_in_the_admin(client, rumor, platform_a, reviewer, reviewer2, checker):
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=5)
    sanction = Sanction.objects.create(
        rumor=rumor, platform=platform_a, author_hash=account("a"), measure="closure", recommended_measure="closure"
    )
    client.force_login(reviewer)
    act(client, CHANGELIST, "apply_selected", [sanction.pk])
    response = act(client, CHANGELIST, "approve_selected", [sanction.pk])
    assert b"Four-eyes rule" in response.content
    sanction.refresh_from_db()
    assert sanction.status == Sanction.Status.PENDING_APPROVAL
    client.force_login(reviewer2)
    act(client, CHANGELIST, "approve_selected", [sanction.pk])
    sanction.refresh_from_db()
    assert sanction.status == Sanction.Status.ACTIVE and sanction.approved_by == reviewer2
    response = act(client, CHANGELIST, "lift_selected", [sanction.pk], reason="")
    assert b"Give a reason" in response.content
    act(client, CHANGELIST, "lift_selected", [sanction.pk], reason="核实有误")
    sanction.refresh_from_db()
    assert sanction.status == Sanction.Status.LIFTED


def test_rules_are_edited_by_administrators_and_audited(client, administrator, reviewer):
    rule = SanctionRule.objects.get(max_reach=100)
    url = f"/admin/debunk/sanctionrule/{rule.pk}/change/"
    client.force_login(reviewer)
    assert client.get(url).status_code == 200  # view only
    assert b'name="_save"' not in client.get(url).content
    client.force_login(administrator)
    data = {
        "position": rule.position,
        "name": rule.name,
        "is_active": "on",
        "first_poster": "any",
        "max_reach": "200",
        "window_days": "90",
        "mcn_member": "any",
        "effect": "set",
        "measure": "warning",
        "steps": "1",
    }
    assert client.post(url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.max_reach == 200
    event = AuditEvent.objects.get(action="sanction.rule.change")
    assert event.changes["max_reach"] == [100, 200] and event.actor == administrator


def test_a_joint_measure_from_the_organisation_list(client, reviewer, platform_a):
    organization = Organization.objects.create(name="某MCN")
    for name in ("m1", "m2"):
        OrganizationMember.objects.create(organization=organization, platform=platform_a, author_hash=account(name))
    client.force_login(reviewer)
    act(
        client,
        "/admin/debunk/organization/",
        "joint_measure",
        [organization.pk],
        measure=Measure.RESTRICTION,
        days="7",
        reason="协同造谣",
    )
    assert Sanction.objects.filter(organization=organization, status="active", days=7).count() == 2
    page = client.get(f"/admin/debunk/organization/{organization.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"posting restriction: 2" in page.content


def test_the_other_sanction_pages_open(client, administrator):
    client.force_login(administrator)
    for url in [
        "/admin/debunk/sanctionrule/",
        "/admin/debunk/bannedidentity/",
        "/admin/debunk/sanctionnotice/",
        "/admin/debunk/report/",
        "/admin/debunk/organization/add/",
        CHANGELIST,
    ]:
        assert client.get(url).status_code == 200, url


def test_rule_deletes_go_through_the_service_and_are_audited(client, administrator, reviewer):
    first, second = SanctionRule.objects.order_by("position")[:2]
    client.force_login(reviewer)  # may view rules, not delete them
    assert client.post(f"/admin/debunk/sanctionrule/{first.pk}/delete/", {"post": "yes"}).status_code == 403
    client.force_login(administrator)
    assert client.post(f"/admin/debunk/sanctionrule/{first.pk}/delete/", {"post": "yes"}).status_code == 302
    response = client.post(
        "/admin/debunk/sanctionrule/", {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not SanctionRule.objects.filter(pk__in=[first.pk, second.pk]).exists()
    events = AuditEvent.objects.filter(action="sanction.rule.delete").order_by("pk")
    assert [(e.target_id, e.actor) for e in events] == [(str(first.pk), administrator), (str(second.pk), administrator)]
    assert events[0].changes["name"] == [first.name, None]
