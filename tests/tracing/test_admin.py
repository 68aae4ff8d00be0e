"""The trace admin: reviewers trace, read and export; fact-checkers and outsiders are refused."""

import hashlib
import json

import pytest
from django.urls import reverse

from debunk.tracing.models import Trace
from debunk.tracing.services import trace_rumor

pytestmark = pytest.mark.django_db


@pytest.fixture
def trace(cascade, reviewer):
    return trace_rumor(rumor=cascade["rumor"], by=reviewer)


def test_reviewer_traces_from_the_rumor_page(client, cascade, reviewer):
    client.force_login(reviewer)
    rumor = cascade["rumor"]
    page = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
    now_url = reverse("admin:debunk_trace_now", args=[rumor.pk])
    assert now_url in page.content.decode()
    assert client.get(now_url).status_code == 200
    response = client.post(now_url)
    trace = Trace.objects.get(rumor=rumor)
    assert response.status_code == 302 and response["Location"] == reverse("admin:debunk_trace_change", args=[trace.pk])
    assert trace.created_by == reviewer


def test_reviewer_sees_the_list_and_the_detail_with_drawings(client, reviewer, trace):
    client.force_login(reviewer)
    listing = client.get(reverse("admin:debunk_trace_changelist"))
    assert listing.status_code == 200 and trace.evidence_sha256[:12] in listing.content.decode()
    detail = client.get(reverse("admin:debunk_trace_change", args=[trace.pk])).content.decode()
    assert 'class="trace-growth"' in detail and 'class="trace-tree"' in detail
    assert "w1" in detail and "h-star" in detail  # the first poster and the key amplifier
    assert 'id="first-posters"' in detail and "earliest_known" in detail
    assert reverse("admin:debunk_trace_export", args=[trace.pk]) in detail
    assert 'name="_save"' not in detail  # read-only


def test_export_is_the_canonical_bundle_with_its_sha256(client, reviewer, trace):
    client.force_login(reviewer)
    response = client.get(reverse("admin:debunk_trace_export", args=[trace.pk]))
    assert response.status_code == 200
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == trace.evidence_sha256 == response["X-Evidence-SHA256"]
    assert f"trace-{trace.pk}-{digest}.json" in response["Content-Disposition"]
    assert response["X-Evidence-Verified"] == "true"
    assert json.loads(response.content)["format"] == "debunk-trace/1"


@pytest.mark.parametrize("who", ["checker", "outsider"])
def test_others_are_refused(client, request, who, trace, cascade):
    client.force_login(request.getfixturevalue(who))
    for url in (
        reverse("admin:debunk_trace_changelist"),
        reverse("admin:debunk_trace_change", args=[trace.pk]),
        reverse("admin:debunk_trace_export", args=[trace.pk]),
        reverse("admin:debunk_trace_now", args=[cascade["rumor"].pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("admin:debunk_trace_now", args=[cascade["rumor"].pk])).status_code == 403
    assert Trace.objects.count() == 1


def test_no_edit_or_delete(client, reviewer, trace):
    client.force_login(reviewer)
    assert client.post(reverse("admin:debunk_trace_change", args=[trace.pk]), {}).status_code == 403
    assert client.get(reverse("admin:debunk_trace_delete", args=[trace.pk])).status_code == 403
    assert client.get(reverse("admin:debunk_trace_add")).status_code == 403
