"""The key admin: a new key is shown once; keys are revoked, never edited; the request log is read-only."""

import re

import pytest
from django.urls import reverse

from debunk.api.keys import api_key_authenticate
from debunk.api.models import ApiKey, ApiRequestLog
from debunk.core.models import AuditEvent
from tests.api.conftest import api_client, make_key

KEY_RE = re.compile(r"dbk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_adding_a_key_shows_it_once(admin_client, administrator, platform):
    response = admin_client.post(
        reverse("admin:debunk_apikey_add"), {"platform": platform.pk, "name": "production"}, follow=True
    )
    assert response.status_code == 200
    shown = KEY_RE.findall(response.content.decode())
    assert len(set(shown)) == 1
    raw = shown[0]
    key = ApiKey.objects.get()
    assert (key.platform, key.name, key.created_by) == (platform, "production", administrator)
    assert api_key_authenticate(raw) == key
    assert AuditEvent.objects.filter(action="apikey.create", actor=administrator).exists()
    assert api_client(raw).get("/api/v1/ping").status_code == 200

    listing = admin_client.get(reverse("admin:debunk_apikey_changelist")).content.decode()
    assert raw not in listing and key.display_prefix in listing
    detail = admin_client.get(reverse("admin:debunk_apikey_change", args=[key.pk])).content.decode()
    assert raw not in detail and key.key_hash not in detail


def test_a_key_cannot_be_edited_or_deleted(admin_client, platform):
    key, _raw = make_key(platform, name="before")
    url = reverse("admin:debunk_apikey_change", args=[key.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="name"' not in page and 'name="_save"' not in page
    admin_client.post(url, {"platform": platform.pk, "name": "after"})
    key.refresh_from_db()
    assert key.name == "before"
    assert admin_client.get(reverse("admin:debunk_apikey_delete", args=[key.pk])).status_code == 403


def test_revoke_selected_keys(admin_client, administrator, platform):
    key, raw = make_key(platform)
    response = admin_client.post(
        reverse("admin:debunk_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
        follow=True,
    )
    assert "Revoked 1 key(s)." in response.content.decode()
    key.refresh_from_db()
    assert key.is_revoked
    assert AuditEvent.objects.filter(action="apikey.revoke", actor=administrator).exists()
    assert api_client(raw).get("/api/v1/ping").status_code == 401


def test_request_log_is_read_only(admin_client, client_for):
    client_for.get("/api/v1/ping")
    log = ApiRequestLog.objects.get()
    changelist = admin_client.get(reverse("admin:debunk_apirequestlog_changelist"), {"status_code": 200})
    assert changelist.status_code == 200 and "/api/v1/ping" in changelist.content.decode()
    assert admin_client.get(reverse("admin:debunk_apirequestlog_add")).status_code == 403
    detail = admin_client.get(reverse("admin:debunk_apirequestlog_change", args=[log.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()


def test_fact_checkers_cannot_see_keys(client, checker):
    client.force_login(checker)
    assert client.get(reverse("admin:debunk_apikey_changelist")).status_code == 403
    assert client.get(reverse("admin:debunk_apirequestlog_changelist")).status_code == 403
