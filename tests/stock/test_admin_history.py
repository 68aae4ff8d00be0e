"""The rumor's history pages (django-simple-history): a revert posts the old version's fields, which go through
rumor_update onto the rumor as it is now. The workflow's status never goes back with them, and a revert the service
refuses is a message on the page, never a 500 or a half-written record."""

import pytest
from django.urls import reverse

from debunk.core.models import AuditEvent
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from tests.factories import make_rumor

FIRST = "网传某市自来水厂被污染，全市停水三天"
SECOND = "网传某市自来水厂被污染，全市停水一周"


@pytest.fixture(autouse=True)
def english_admin(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def rumor(checker, reviewer) -> Rumor:
    """Published, with a first version (draft, FIRST) in its history and SECOND as its claim now."""
    rumor = make_rumor(checker, claim=FIRST)
    rumor_services.rumor_update(rumor=rumor, by=checker, claim=SECOND)
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    return rumor


def first_version_url(rumor: Rumor) -> str:
    version = rumor.history.order_by("history_date", "history_id").first()
    assert version.claim == FIRST and version.status == Rumor.Status.DRAFT
    return reverse("admin:debunk_rumor_simple_history", args=[rumor.pk, version.history_id])


def revert_form(client, url: str) -> dict:
    """What the browser posts when the user clicks "Revert" on the version's page."""
    response = client.get(url)
    assert response.status_code == 200
    data = {}
    for field in response.context["adminform"].form:
        value = field.value()
        if value not in (None, False, ""):
            data[field.html_name] = "on" if value is True else str(value)
    return data


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_revert_changes_the_fields_back_through_the_service_and_keeps_the_status(client, rumor, reviewer):
    published_at = rumor.published_at
    client.force_login(reviewer)
    url = first_version_url(rumor)
    response = client.post(url, revert_form(client, url))
    assert response.status_code == 302
    rumor.refresh_from_db()
    assert rumor.claim == FIRST
    assert (rumor.status, rumor.published_at, rumor.reviewed_by) == (Rumor.Status.PUBLISHED, published_at, reviewer)
    event = AuditEvent.objects.filter(action="rumor.update").latest("pk")
    assert event.actor == reviewer and event.changes == {"claim": [SECOND, FIRST]}
    assert rumor.history.latest("history_date").history_user == reviewer


def test_revert_of_a_published_rumor_without_the_review_permission_is_a_message(client, rumor, checker):
    client.force_login(checker)
    url = first_version_url(rumor)
    updates = AuditEvent.objects.filter(action="rumor.update").count()
    response = client.post(url, revert_form(client, url), follow=True)
    assert response.status_code == 200 and response.redirect_chain == [(url, 302)]
    assert messages_of(response) == [("error", "You do not have permission to do this.")]
    rumor.refresh_from_db()
    assert (rumor.claim, rumor.status) == (SECOND, Rumor.Status.PUBLISHED)
    assert AuditEvent.objects.filter(action="rumor.update").count() == updates


def test_revert_of_a_retracted_rumor_is_refused_with_the_services_reason(client, rumor, reviewer):
    rumor_services.rumor_step(name="retract", rumor=rumor, by=reviewer, reason="wrong verdict")
    client.force_login(reviewer)
    url = first_version_url(rumor)
    response = client.post(url, revert_form(client, url), follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [("error", "Reopen a retracted or expired rumor before editing it.")]
    rumor.refresh_from_db()
    assert (rumor.claim, rumor.status) == (SECOND, Rumor.Status.RETRACTED)


def test_revert_needs_the_change_permission(client, rumor, outsider):
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)
    url = first_version_url(rumor)
    assert client.post(url, {"claim": FIRST}).status_code == 403
    rumor.refresh_from_db()
    assert rumor.claim == SECOND


def test_the_review_queues_history_pages_are_the_rumors(client, rumor, reviewer):
    client.force_login(reviewer)
    version = rumor.history.order_by("history_date", "history_id").first()
    queue_revert = reverse("admin:debunk_reviewitem_simple_history", args=[rumor.pk, version.history_id])
    response = client.post(queue_revert, {"claim": FIRST})
    assert response.status_code == 302 and response["Location"] == first_version_url(rumor)
    queue_history = reverse("admin:debunk_reviewitem_history", args=[rumor.pk])
    assert client.get(queue_history)["Location"] == reverse("admin:debunk_rumor_history", args=[rumor.pk])
    rumor.refresh_from_db()
    assert rumor.claim == SECOND
