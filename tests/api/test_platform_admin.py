"""The Platform admin writes through debunk.api.platforms, clicked as an administrator clicks: adding, editing,
deactivating (keys refused at once) and deleting only a platform nothing refers to — else the confirmation page
says why, and a posted confirmation deletes nothing."""

import pytest
from django.urls import reverse

from debunk.api.models import Platform
from debunk.api.platforms import platform_create, platform_delete, platform_update
from debunk.core.models import AuditEvent
from debunk.core.roles import operator_user
from tests.api.conftest import api_client, make_key, make_platform

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:debunk_platform_changelist")


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_adding_a_platform_is_audited(admin_client, administrator):
    response = admin_client.post(
        reverse("admin:debunk_platform_add"), {"code": "kuaishou", "name": " Kuaishou ", "is_active": "on"}
    )
    assert response.status_code == 302
    platform = Platform.objects.get(code="kuaishou")
    assert (platform.name, platform.is_active) == ("Kuaishou", True)
    [event] = events("platform.create")
    assert (event.actor, event.target_id) == (administrator, str(platform.pk))
    assert event.changes["code"] == [None, "kuaishou"]


def test_bad_input_is_a_form_error_and_writes_nothing(admin_client):
    make_platform("weibo", "Weibo")
    for data in [{"code": "Bad Code", "name": "X"}, {"code": "weibo", "name": "Again"}, {"code": "ok", "name": ""}]:
        response = admin_client.post(reverse("admin:debunk_platform_add"), data)
        assert response.status_code == 200 and response.context["adminform"].form.errors, data
    assert Platform.objects.count() == 1
    assert not AuditEvent.objects.filter(action__startswith="platform.").exists()


def test_editing_is_audited_with_what_changed(admin_client, administrator, platform):
    url = reverse("admin:debunk_platform_change", args=[platform.pk])
    assert admin_client.post(url, {"code": "weibo", "name": "新浪微博", "is_active": "on"}).status_code == 302
    assert admin_client.post(url, {"code": "weibo", "name": "新浪微博", "is_active": "on"}).status_code == 302
    [event] = events("platform.update")  # saving again unchanged records nothing
    assert event.actor == administrator and event.changes == {"name": ["Weibo", "新浪微博"]}


def test_unticking_active_deactivates_and_the_keys_stop_at_once(
    admin_client, administrator, platform, django_capture_on_commit_callbacks
):
    _key, raw = make_key(platform)
    assert api_client(raw).get("/api/v1/ping").status_code == 200  # the key lookup is now cached
    url = reverse("admin:debunk_platform_change", args=[platform.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"code": "weibo", "name": "Weibo"})
    assert response.status_code == 302
    [event] = events("platform.deactivate")
    assert event.actor == administrator and event.changes == {"is_active": [True, False]}
    assert api_client(raw).get("/api/v1/ping").status_code == 403


def test_deactivate_and_activate_actions(admin_client, administrator, platform):
    other = make_platform("douyin", "Douyin")
    ids = [platform.pk, other.pk]
    response = admin_client.post(CHANGELIST, {"action": "deactivate_selected", "_selected_action": ids}, follow=True)
    assert "Deactivated 2 platform(s)." in response.content.decode()
    assert not Platform.objects.filter(is_active=True).exists()
    assert len(events("platform.deactivate")) == 2
    admin_client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [other.pk]})
    assert list(Platform.objects.filter(is_active=True)) == [other]
    assert [e.actor for e in events("platform.activate")] == [administrator]


def test_a_platform_with_keys_cannot_be_deleted_the_page_says_why(admin_client, platform):
    make_key(platform)
    url = reverse("admin:debunk_platform_delete", args=[platform.pk])
    page = admin_client.get(url)
    text = page.content.decode()
    assert page.status_code == 200 and "cannot be deleted" in text and "deactivate it instead" in text
    assert "API keys: 1" in text and 'name="post"' not in text
    forged = admin_client.post(url, {"post": "yes"})
    assert forged.status_code == 200 and Platform.objects.filter(pk=platform.pk).exists()
    assert not events("platform.delete")


def test_the_refusal_is_translated(client, administrator, platform):
    make_key(platform)
    client.force_login(administrator)
    page = client.get(reverse("admin:debunk_platform_delete", args=[platform.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "请改为停用" in page.content.decode()


def test_delete_selected_refuses_a_referenced_platform_on_the_confirmation_page(admin_client, platform):
    unused = make_platform("typo", "Typo")
    make_key(platform)
    ids = [platform.pk, unused.pk]
    confirm = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": ids})
    text = confirm.content.decode()
    assert confirm.status_code == 200 and "Weibo: This platform is still referred to" in text
    admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert Platform.objects.count() == 2 and not events("platform.delete")


def test_an_unused_platform_is_deleted_through_the_service(admin_client, administrator):
    unused = make_platform("typo", "Typo")
    url = reverse("admin:debunk_platform_delete", args=[unused.pk])
    assert 'name="post"' in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Platform.objects.filter(pk=unused.pk).exists()
    [event] = events("platform.delete")
    assert (event.actor, event.target_id, event.changes["code"]) == (administrator, str(unused.pk), ["typo", None])


def test_delete_selected_deletes_unused_platforms_through_the_service(admin_client):
    ids = [make_platform("a1", "A").pk, make_platform("b1", "B").pk]
    admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert not Platform.objects.exists() and len(events("platform.delete")) == 2


def test_reviewers_only_see_platforms(client, reviewer, platform):
    client.force_login(reviewer)
    url = reverse("admin:debunk_platform_change", args=[platform.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"code": "weibo", "name": "Hacked", "is_active": "on"}).status_code == 403
    assert client.post(reverse("admin:debunk_platform_delete", args=[platform.pk]), {"post": "yes"}).status_code == 403
    platform.refresh_from_db()
    assert platform.name == "Weibo"


def test_services_refuse_without_an_actor_and_a_referenced_delete(platform):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        platform_create(by=None, code="x", name="X")
    with pytest.raises(PermissionDenied):
        platform_update(platform=platform, by=None, name="Y")
    make_key(platform)
    with pytest.raises(ValidationError) as refused:
        platform_delete(platform=platform, by=operator_user())
    assert refused.value.code == "platform_in_use"
    assert Platform.objects.filter(pk=platform.pk).exists()
