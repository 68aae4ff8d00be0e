"""The organisation (MCN) admin and its member inline write through debunk.sanctions.organizations, clicked as a
reviewer clicks: the real change form posted with the inline's management form. Every add, change and delete is
audited; an organisation a joint measure names is kept, and its delete confirmation page says so."""

import pytest
from django.urls import reverse

from debunk.core.models import AuditEvent
from debunk.sanctions import organizations as organization_services
from debunk.sanctions.models import Measure, Organization, OrganizationMember, Sanction
from debunk.sanctions.services import organization_sanction
from tests.factories import UserFactory
from tests.sanctions.conftest import account
from tests.stock.test_admin_integrity import form_data

pytestmark = pytest.mark.django_db
PREFIX = "members"


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def change_url(organization: Organization) -> str:
    return reverse("admin:debunk_organization_change", args=[organization.pk])


def make_organization(by, name: str = "某MCN", members: tuple[str, ...] = ()) -> Organization:
    organization = organization_services.organization_save(organization=Organization(name=name), by=by)
    for member in members:
        organization_services.member_add(organization=organization, by=by, platform=member[0], author_hash=member[1])
    return organization


def test_adding_an_organisation_with_members_is_audited(client, reviewer, platform_a):
    client.force_login(reviewer)
    data = form_data(client.get(reverse("admin:debunk_organization_add")))
    data.update(
        {
            "name": " 星火传媒 ",
            "notes": "多账号协同",
            f"{PREFIX}-0-platform": str(platform_a.pk),
            f"{PREFIX}-0-author_hash": account("m1"),
        }
    )
    response = client.post(reverse("admin:debunk_organization_add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    organization = Organization.objects.get()
    assert organization.name == "星火传媒"
    member = organization.members.get()
    assert (member.platform, member.author_hash) == (platform_a, account("m1"))
    assert actions() == ["organization.create", "organization.member.add"]
    events = AuditEvent.objects.order_by("pk")
    assert {e.actor for e in events} == {reviewer}
    assert events[1].changes["author_hash"] == [None, account("m1")]


def test_inline_edit_and_delete_of_members_are_audited(client, reviewer, platform_a, platform_b):
    organization = make_organization(reviewer, members=((platform_a, account("m1")), (platform_a, account("m2"))))
    first, second = organization.members.order_by("pk")
    before = len(actions())
    client.force_login(reviewer)
    data = form_data(client.get(change_url(organization)))
    rows = {
        data[f"{PREFIX}-{i}-id"]: i for i in range(int(data[f"{PREFIX}-TOTAL_FORMS"])) if data.get(f"{PREFIX}-{i}-id")
    }
    data[f"{PREFIX}-{rows[str(first.pk)]}-platform"] = str(platform_b.pk)
    data[f"{PREFIX}-{rows[str(second.pk)]}-DELETE"] = "on"
    data["notes"] = "更新"
    assert client.post(change_url(organization), data).status_code == 302
    assert list(organization.members.values_list("platform", "author_hash")) == [(platform_b.pk, account("m1"))]
    assert actions()[before:] == ["organization.update", "organization.member.remove", "organization.member.update"]
    update = AuditEvent.objects.get(action="organization.member.update")
    assert update.changes == {"platform": [platform_a.pk, platform_b.pk]} and update.actor == reviewer
    removed = AuditEvent.objects.get(action="organization.member.remove")
    assert removed.changes["author_hash"] == [account("m2"), None]


def test_a_bad_member_row_is_a_form_error_and_writes_nothing(client, reviewer, platform_a):
    organization = make_organization(reviewer, members=((platform_a, account("m1")),))
    before = actions()
    client.force_login(reviewer)
    data = form_data(client.get(change_url(organization)))
    total = int(data[f"{PREFIX}-TOTAL_FORMS"])
    extra = total - 1  # the empty extra row
    data[f"{PREFIX}-{extra}-platform"] = str(platform_a.pk)
    data[f"{PREFIX}-{extra}-author_hash"] = "NOT-A-HASH"
    data["name"] = "改名"
    response = client.post(change_url(organization), data)
    assert response.status_code == 200 and response.context["inline_admin_formsets"][0].formset.errors[extra]
    organization.refresh_from_db()
    assert organization.name == "某MCN" and organization.members.count() == 1 and actions() == before


def test_the_same_account_twice_is_a_form_error(client, reviewer, platform_a):
    organization = make_organization(reviewer, members=((platform_a, account("m1")),))
    before = actions()
    client.force_login(reviewer)
    data = form_data(client.get(change_url(organization)))
    extra = int(data[f"{PREFIX}-TOTAL_FORMS"]) - 1
    data[f"{PREFIX}-{extra}-platform"] = str(platform_a.pk)
    data[f"{PREFIX}-{extra}-author_hash"] = account("m1")
    response = client.post(change_url(organization), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "must be unique" in response.content.decode()
    assert organization.members.count() == 1 and actions() == before


def test_fact_checkers_cannot_edit_organisations(client, checker, reviewer, platform_a):
    organization = make_organization(reviewer, members=((platform_a, account("m1")),))
    client.force_login(checker)
    data = form_data(client.get(change_url(organization)))
    data["name"] = "改名"
    assert client.post(change_url(organization), data).status_code == 403
    organization.refresh_from_db()
    assert organization.name == "某MCN"


def test_deleting_an_organisation_through_the_service(client, superuser, reviewer, platform_a):
    organization = make_organization(reviewer, members=((platform_a, account("m1")),))
    client.force_login(reviewer)  # reviewers may edit, not delete
    url = reverse("admin:debunk_organization_delete", args=[organization.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.force_login(superuser)
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Organization.objects.exists() and not OrganizationMember.objects.exists()
    assert actions()[-2:] == ["organization.member.remove", "organization.delete"]
    assert AuditEvent.objects.get(action="organization.delete").actor == superuser


def test_an_organisation_named_by_a_joint_measure_is_kept(client, superuser, reviewer, platform_a):
    organization = make_organization(reviewer, members=((platform_a, account("m1")),))
    organization_sanction(organization=organization, measure=Measure.WARNING, days=None, by=reviewer, reason="协同")
    client.force_login(superuser)
    url = reverse("admin:debunk_organization_delete", args=[organization.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "cannot be deleted" in page and "1 joint sanction(s) name this organisation" in page
    assert 'name="post"' not in page
    before = actions()
    assert client.post(url, {"post": "yes"}).status_code == 200  # a forged confirmation: the page again
    changelist = reverse("admin:debunk_organization_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [organization.pk], "post": "yes"})
    assert Organization.objects.filter(pk=organization.pk).exists() and organization.members.count() == 1
    assert Sanction.objects.filter(organization=organization).count() == 1 and actions() == before


def test_services_refuse_without_an_actor(platform_a, reviewer):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        organization_services.organization_save(organization=Organization(name="x"), by=None)
    organization = make_organization(reviewer)
    with pytest.raises(PermissionDenied):
        organization_services.member_add(organization=organization, by=None, platform=platform_a, author_hash="a" * 64)
    with pytest.raises(PermissionDenied):
        organization_services.organization_delete(organization=organization, by=reviewer)
    assert Organization.objects.filter(pk=organization.pk).exists()
