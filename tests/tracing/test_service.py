"""trace_rumor: the posts it follows, the rows it writes, the immutable evidence and its audit event."""

import hashlib
import json

import pytest
from django.core.exceptions import PermissionDenied

from debunk.core.models import AuditEvent
from debunk.matching.models import Match
from debunk.tracing.models import FirstPoster, Trace
from debunk.tracing.services import canonical_json, trace_rumor

pytestmark = pytest.mark.django_db


def test_trace_rumor_finds_the_first_posters(cascade, reviewer):
    trace = trace_rumor(rumor=cascade["rumor"], by=reviewer)
    assert trace.posts == 9  # 3 matched, 6 reposts followed by their parent links; not the rejected match
    assert trace.roots == 2  # the source (with the inferred cross-platform copy) and the orphan's missing source
    overall = trace.first_posters.filter(scope_platform__isnull=True).order_by("root_index")
    first, second = overall
    assert (first.post, first.kind, first.root_index) == (cascade["source"], FirstPoster.Kind.SOURCE, 0)
    assert first.subtree_size == 8 and first.similarity == 1.0
    assert (second.post, second.kind, second.root_index) == (cascade["orphan"], FirstPoster.Kind.EARLIEST_KNOWN, 1)
    per_platform = {fp.scope_platform.code: fp for fp in trace.first_posters.filter(scope_platform__isnull=False)}
    assert per_platform["weibo"].post == cascade["source"]
    assert per_platform["douyin"].post == cascade["copy"] and per_platform["douyin"].kind == FirstPoster.Kind.SOURCE
    assert trace.summary["amplifiers"][0]["author"] == "h-star"
    assert trace.summary["growth"][-1][1] == 9
    links = {p["platform_post_id"]: p["link"] for p in trace.evidence["posts"]}
    assert links["d1"] == "inferred" and links["w2"] == "reported" and links["w9"] == "missing"


def test_evidence_is_canonical_json_with_its_sha256_and_an_audit_event(cascade, reviewer):
    trace = trace_rumor(rumor=cascade["rumor"], by=reviewer)
    stored = Trace.objects.get(pk=trace.pk)
    data = json.dumps(stored.evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert data == canonical_json(stored.evidence)
    assert hashlib.sha256(data).hexdigest() == stored.evidence_sha256
    origin = stored.evidence["origins"][0]
    assert origin["post"] == cascade["source"].pk and origin["kind"] == "source"
    assert origin["posted_at"].startswith("2026-11-01T08:00")
    event = AuditEvent.objects.get(action="trace", target_id=str(trace.pk))
    assert event.actor == reviewer and event.changes["evidence_sha256"][1] == stored.evidence_sha256


def test_a_new_trace_is_a_new_row(cascade, reviewer):
    first = trace_rumor(rumor=cascade["rumor"], by=reviewer)
    Match.objects.create(
        post=cascade["star"], rumor=cascade["rumor"], similarity=0.6, containment=0.6, status="confirmed"
    )
    cascade["source"].delete()  # the source is deleted afterwards: its reposts report a parent now absent
    second = trace_rumor(rumor=cascade["rumor"], by=reviewer)
    assert second.pk != first.pk and Trace.objects.count() == 2
    assert Trace.objects.get(pk=first.pk).evidence_sha256 == first.evidence_sha256
    weibo = second.first_posters.get(scope_platform=cascade["weibo"])
    assert weibo.kind == FirstPoster.Kind.EARLIEST_KNOWN  # the largest surviving branch, not a "source"
    assert weibo.platform_post_id == "w2" and weibo.subtree_size == 5
    # The douyin copy (minute 3) and the weibo branch (minute 5) are within the clock skew of each other: the
    # larger cascade leads, and the evidence says the order was not decided by the clocks.
    lead = second.first_posters.get(scope_platform__isnull=True, root_index=0)
    assert (lead.platform_post_id, lead.kind) == ("w2", FirstPoster.Kind.EARLIEST_KNOWN)
    assert second.evidence["origins"][0]["within_skew_of"] == [cascade["copy"].pk]


def test_clock_skew_setting(cascade, reviewer, settings):
    settings.TRACING_CLOCK_SKEW_SECONDS = 60
    trace = trace_rumor(rumor=cascade["rumor"], by=reviewer)
    assert trace.clock_skew_seconds == 60 and trace.evidence["method"]["clock_skew_seconds"] == 60


def test_only_reviewers_trace(cascade, checker):
    with pytest.raises(PermissionDenied):
        trace_rumor(rumor=cascade["rumor"], by=checker)
    assert not Trace.objects.exists()


def test_a_rumor_without_posts(cascade, reviewer):
    from tests.factories import make_rumor

    trace = trace_rumor(rumor=make_rumor(reviewer, claim="另一个谣言，没有任何帖子提到它的内容"), by=reviewer)
    assert trace.posts == 0 and trace.roots == 0 and not trace.first_posters.exists()
