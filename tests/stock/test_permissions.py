"""One permission check for every service (debunk.core.roles.require_perm): `by=None` is never allowed; the
software acts as an explicit system user, so every audit event names an actor."""

import io

import pytest
from django.core.exceptions import PermissionDenied

from debunk.api.keys import api_key_create
from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.core.roles import operator_user, require_perm
from debunk.stock import attachments, debunks, rumors
from labels.models import Category, VerdictLabel
from tests.factories import make_rumor


def test_require_perm_refuses_none_and_the_unpermitted(checker):
    with pytest.raises(PermissionDenied):
        require_perm(None, "debunk.add_rumor")
    with pytest.raises(PermissionDenied):
        require_perm(checker, "debunk.review_rumor")
    require_perm(checker, "debunk.add_rumor")  # held: no exception


@pytest.mark.parametrize("service", ["rumor_create", "rumor_submit", "debunk_create", "attachment_add", "api_key"])
def test_services_refuse_an_anonymous_actor_and_write_nothing(checker, service):
    rumor = make_rumor(checker)
    calls = {
        "rumor_create": lambda: rumors.rumor_create(
            by=None,
            claim="无主之言",
            category=Category.objects.get(code="other"),
            verdict=VerdictLabel.objects.get(code="false"),
        ),
        "rumor_submit": lambda: rumors.rumor_submit(rumor=rumor, by=None),
        "debunk_create": lambda: debunks.debunk_create(rumor=rumor, by=None, title="t", summary="s", body="b"),
        "attachment_add": lambda: attachments.attachment_add(rumor=rumor, by=None, upload=io.BytesIO(b"text")),
        "api_key": lambda: api_key_create(platform=Platform.objects.create(code="p", name="P"), name="k", by=None),
    }
    events = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        calls[service]()
    assert AuditEvent.objects.count() == events


def test_operator_commands_act_as_the_system_operator(db):
    key, _raw = api_key_create(platform=Platform.objects.create(code="p", name="P"), name="k", by=operator_user())
    event = AuditEvent.objects.get(action="apikey.create")
    assert event.actor.username == "system-operator" == key.created_by.username
