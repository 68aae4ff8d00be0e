"""Verification requests: asking (perms, validation, audit), the one-time answer link mailed to an e-mail verifier
and its public page, the verifier role's narrow view in the admin, cancelling, and the record on the rumor."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.core.roles import VERIFIER
from debunk.reports.models import VerificationRequest
from debunk.reports.verification import verification_answer, verification_cancel, verification_request
from tests.factories import UserFactory, make_rumor, publish_rumor


@pytest.fixture
def verifier(db):
    return UserFactory(username="cdc", email="expert@cdc.example.org", roles=[VERIFIER])


@pytest.fixture
def other_verifier(db):
    return UserFactory(username="water", roles=[VERIFIER])


@pytest.fixture
def rumor(checker):
    return make_rumor(checker)


@pytest.fixture(autouse=True)
def commits(django_capture_on_commit_callbacks):
    """The tasks queued on commit (the link's e-mail) run when the service's transaction would commit."""
    global _commits
    _commits = django_capture_on_commit_callbacks
    yield


_commits = None


def soon() -> timezone.datetime:
    return timezone.now() + timedelta(days=2)


def ask(rumor, by, **fields):
    fields = {"verifier_name": "市疾控中心", "question": "水质是否合格？", "due_at": soon(), **fields}
    with _commits(execute=True):
        return verification_request(rumor, by=by, **fields)


def token_of(message) -> str:
    return re.search(r"/verify-claim/([^/\s]+)/", message.body).group(1)


def test_a_reviewer_asks_an_email_verifier_who_gets_a_one_time_link(rumor, reviewer):
    request = ask(rumor, reviewer, verifier_email="lab@water.example.org")
    assert request.status == "open" and request.requested_by == reviewer
    [message] = mail.outbox
    assert message.to == ["lab@water.example.org"]
    token = token_of(message)
    request.refresh_from_db()
    assert request.token_hash and token not in request.token_hash and len(request.token_hash) == 64
    assert AuditEvent.objects.filter(action="verification.request", target_id=str(request.pk)).count() == 1


def test_asking_needs_the_permission_and_valid_fields(rumor, checker, reviewer, verifier, outsider):
    with pytest.raises(PermissionDenied):
        ask(rumor, checker, verifier_email="a@example.org")
    cases = [
        ({}, "verifier"),  # neither account nor e-mail
        ({"verifier": verifier, "verifier_email": "a@example.org"}, "verifier"),  # both
        ({"verifier": outsider}, "verifier"),  # an account without the verifier role
        ({"verifier_email": "not-an-address"}, "verifier_email"),
        ({"verifier_email": "a@example.org", "due_at": timezone.now() - timedelta(minutes=1)}, "due_at"),
        ({"verifier_email": "a@example.org", "question": "  "}, "question"),
        ({"verifier_email": "a@example.org", "verifier_name": ""}, "verifier_name"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as exc:
            ask(rumor, reviewer, **fields)
        assert field in exc.value.message_dict, fields
    assert VerificationRequest.objects.count() == 0 and not mail.outbox


def test_the_addressed_account_answers_and_the_rumor_records_it(rumor, reviewer, verifier, other_verifier):
    request = ask(rumor, reviewer, verifier=verifier)
    assert not mail.outbox and not request.token_hash  # an account answers in the admin, no link
    with pytest.raises(PermissionDenied):
        verification_answer(request, answer="false", answer_text="x", by=other_verifier)
    with pytest.raises(PermissionDenied):
        verification_answer(request, answer="false", answer_text="x", by=reviewer)  # not the verifier role
    with pytest.raises(ValidationError) as exc:
        verification_answer(request, answer="maybe", answer_text="", by=verifier)
    assert set(exc.value.message_dict) == {"answer", "answer_text"}
    verification_answer(request, answer="false", answer_text="水质检测合格。", by=verifier)
    request.refresh_from_db()
    assert (request.status, request.answered_by, request.answered_by_email) == ("answered", verifier, verifier.email)
    rumor.refresh_from_db()
    assert rumor.verification == request and rumor.verified_by == "市疾控中心"
    event = AuditEvent.objects.get(action="verification.answer")
    assert event.actor == verifier and event.changes["status"] == ["open", "answered"]
    with pytest.raises(ValidationError):
        verification_answer(request, answer="true", answer_text="again", by=verifier)


def test_cancel_needs_a_reason_and_closes_the_link(client, rumor, reviewer):
    request = ask(rumor, reviewer, verifier_email="lab@water.example.org")
    token = token_of(mail.outbox[0])
    with pytest.raises(ValidationError):
        verification_cancel(request, reviewer, "")
    verification_cancel(request, reviewer, "问题已由其他部门答复")
    assert AuditEvent.objects.get(action="verification.cancel").reason == "问题已由其他部门答复"
    response = client.get(f"/verify-claim/{token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410 and b"cancelled" in response.content
    with pytest.raises(ValidationError):
        verification_cancel(request, reviewer, "again")


def test_the_answer_page_takes_one_answer_by_the_token(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    request = ask(rumor, reviewer, verifier_email="lab@water.example.org")
    token = token_of(mail.outbox[0])
    url = f"/verify-claim/{token}/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and rumor.claim in page.content.decode() and "核实说法" in page.content.decode()
    assert page["Referrer-Policy"] == "no-referrer"
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode().count("Verify a claim") >= 1
    bad = client.post(url, {"answer": "false", "answer_text": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400
    request.refresh_from_db()
    assert request.status == "open"
    done = client.post(url, {"answer": "false", "answer_text": "检测合格"}, HTTP_ACCEPT_LANGUAGE="en")
    assert done.status_code == 200 and b"recorded" in done.content
    request.refresh_from_db()
    assert (request.status, request.answered_by, request.answered_by_email) == (
        "answered",
        None,
        "lab@water.example.org",
    )
    again = client.post(url, {"answer": "true", "answer_text": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 410 and b"already been answered" in again.content
    request.refresh_from_db()
    assert request.answer == "false"
    public = client.get(f"/rumors/{rumor.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    date = timezone.localtime(request.answered_at).strftime("%Y-%m-%d")
    assert f"Verified by 市疾控中心 on {date}" in public
    public_zh = client.get(f"/rumors/{rumor.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"经 市疾控中心 于 {date} 核实" in public_zh


def test_a_wrong_token_is_refused(client, rumor, reviewer):
    ask(rumor, reviewer, verifier_email="lab@water.example.org")
    token = token_of(mail.outbox[0])
    for wrong in [token[:-2] + "xx", "short", "A" * 43]:
        response = client.post(f"/verify-claim/{wrong}/", {"answer": "true", "answer_text": "x"})
        assert response.status_code == 404
    assert VerificationRequest.objects.get().status == "open"
    with pytest.raises(PermissionDenied):
        verification_answer(VerificationRequest.objects.get(), answer="true", answer_text="x", token="A" * 43)


def test_a_failed_send_stores_no_token_and_a_later_send_works(rumor, reviewer, settings):
    from debunk.reports.verification import verification_link_send

    settings.EMAIL_BACKEND = "tests.reports.test_verification.FailingBackend"
    request = ask(rumor, reviewer, verifier_email="lab@water.example.org")
    request.refresh_from_db()
    assert request.token_hash == ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert verification_link_send(request_id=request.pk) == "sent"
    assert verification_link_send(request_id=request.pk) == "skipped"  # once
    assert len(mail.outbox) == 1


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("smtp down")


def test_a_verifier_sees_only_the_requests_addressed_to_it_in_the_admin(
    client, rumor, reviewer, verifier, other_verifier
):
    mine = ask(rumor, reviewer, verifier=verifier, question="问题一")
    theirs = ask(rumor, reviewer, verifier=other_verifier, question="问题二")
    client.force_login(verifier)
    listing = client.get("/admin/debunk/verificationrequest/", HTTP_ACCEPT_LANGUAGE="en")
    assert listing.status_code == 200
    assert f"/{mine.pk}/change/" in listing.content.decode() and f"/{theirs.pk}/change/" not in listing.content.decode()
    assert client.get(f"/admin/debunk/verificationrequest/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/debunk/rumor/").status_code == 403  # the role sees nothing else
    page = client.get(f"/admin/debunk/verificationrequest/{mine.pk}/change/")
    assert page.status_code == 200 and "问题一" in page.content.decode()
    answered = client.post(
        f"/admin/debunk/verificationrequest/{mine.pk}/answer/", {"answer": "misleading", "answer_text": "部分属实"}
    )
    assert answered.status_code == 302
    mine.refresh_from_db()
    assert (mine.status, mine.answered_by) == ("answered", verifier)
    refused = client.post(
        f"/admin/debunk/verificationrequest/{theirs.pk}/answer/", {"answer": "true", "answer_text": "x"}
    )
    assert refused.status_code in (403, 404)
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_the_reviewer_asks_from_the_rumor_page_and_sees_overdue_requests(client, rumor, reviewer):
    client.force_login(reviewer)
    change = client.get(f"/admin/debunk/rumor/{rumor.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/admin/debunk/verificationrequest/ask/{rumor.pk}/" in change
    form = client.get(f"/admin/debunk/verificationrequest/ask/{rumor.pk}/")
    assert form.status_code == 200
    bad = client.post(
        f"/admin/debunk/verificationrequest/ask/{rumor.pk}/",
        {
            "verifier_email": "lab@water.example.org",
            "verifier_name": "水务局",
            "question": "?",
            "due_at": "2001-01-01 10:00",
        },
    )
    assert bad.status_code == 400 and VerificationRequest.objects.count() == 0
    due = timezone.localtime(soon()).strftime("%Y-%m-%d %H:%M")
    made = client.post(
        f"/admin/debunk/verificationrequest/ask/{rumor.pk}/",
        {"verifier_email": "lab@water.example.org", "verifier_name": "水务局", "question": "水质?", "due_at": due},
    )
    assert made.status_code == 302
    request = VerificationRequest.objects.get()
    VerificationRequest.objects.filter(pk=request.pk).update(due_at=timezone.now() - timedelta(hours=1))
    overdue = client.get("/admin/debunk/verificationrequest/?due=overdue", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/{request.pk}/change/" in overdue and "overdue" in overdue
    change = client.get(f"/admin/debunk/rumor/{rumor.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "水务局" in change  # the rumor's page lists its requests
    assert (
        client.get("/admin/debunk/verificationrequest/?due=not_due").content.decode().count(f"/{request.pk}/change/")
        == 0
    )


def test_cannot_be_determined_is_recorded_but_verifies_nothing(rumor, reviewer, verifier):
    request = ask(rumor, reviewer, verifier=verifier)
    verification_answer(request, answer="inconclusive", answer_text="证据不足。", by=verifier)
    request.refresh_from_db()
    rumor.refresh_from_db()
    assert request.status == "answered" and request.answer == "inconclusive"
    assert rumor.verification is None and rumor.verified_by == ""
