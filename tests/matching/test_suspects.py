"""The suspected-match review: confirming makes a text match, rejecting allow-lists it; the admin queue."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import strip_tags

from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.matching import suspects as suspect_services
from debunk.matching.models import AllowListEntry, Match
from debunk.matching.services import match_text
from debunk.matching.suspects import allow_list_remove, match_confirm, match_reject, text_hash
from debunk.stock import rumors as svc
from debunk.stock.models import RumorVariant
from labels.models import VerdictLabel
from tests.factories import make_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
TEXT = CLAIM.replace("三天", "一周").replace("囤水", "存水")  # between the thresholds set below
# The same text once normalised: other punctuation, emoji, a Weibo emoticon, traditional script.
TEXT_RESTYLED = "緊急通知!!某市自來水廠被污染😱 明天起全市停水一周……請大家趕緊存水[蜡烛] 轉發給家人朋友"
OTHER = CLAIM.replace("自来水厂", "污水处理厂").replace("停水三天", "停电两天")  # also suspected, another text

CHANGELIST = "admin:debunk_match_changelist"


@pytest.fixture(autouse=True)
def english_admin(client):
    """The assertions below read English messages; the admin is Chinese by default."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def published(checker, reviewer):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    rumor = make_rumor(checker, claim=CLAIM, verdict="false")
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    return rumor


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


def suspect(platform, text=TEXT, post_id="p1") -> Match:
    result = match_text(text=text, platform=platform, platform_post_id=post_id)
    assert result["matches"][0]["decision"] == "suspected", result
    return Match.objects.get(post__platform_post_id=post_id)


def decision_of(text: str) -> str | None:
    matches = match_text(text=text)["matches"]
    return matches[0]["decision"] if matches else None


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def written() -> tuple:
    return (
        AuditEvent.objects.count(),
        AllowListEntry.objects.count(),
        RumorVariant.objects.count(),
        sorted(Match.objects.values_list("pk", "status", "decided_by")),
    )


# --- services ------------------------------------------------------------------------------------------------------


def test_confirm_adds_the_text_as_variant_and_it_then_matches_automatically(published, platform, reviewer):
    match = suspect(platform)
    before = AuditEvent.objects.count()
    variant = match_confirm(match=match, by=reviewer)
    assert (variant.rumor, variant.text, variant.created_by) == (published, TEXT, reviewer)
    match.refresh_from_db()
    assert (match.status, match.decided_by) == ("confirmed", reviewer) and match.decided_at
    assert decision_of(TEXT) == "matched"
    assert decision_of(TEXT_RESTYLED) == "matched"
    assert actions()[before:] == ["variant.add", "match.confirm"]
    event = AuditEvent.objects.get(action="match.confirm")
    assert (event.actor, event.target_id) == (reviewer, str(match.pk))
    assert event.changes["status"] == ["suspected", "confirmed"]


def test_confirm_decides_every_suspected_post_with_the_same_text(published, platform, reviewer):
    first = suspect(platform, TEXT, "p1")
    same = suspect(platform, TEXT, "p2")
    restyled = suspect(platform, TEXT_RESTYLED, "p3")
    other = suspect(platform, OTHER, "p4")
    match_confirm(match=first, by=reviewer)
    statuses = dict(Match.objects.values_list("post__platform_post_id", "status"))
    assert statuses == {"p1": "confirmed", "p2": "confirmed", "p3": "confirmed", "p4": "suspected"}
    assert published.variants.count() == 1
    assert AuditEvent.objects.filter(action="match.confirm").count() == 3
    assert {same.pk, restyled.pk} < set(Match.objects.filter(decided_by=reviewer).values_list("pk", flat=True))
    assert Match.objects.get(pk=other.pk).decided_by is None


def test_confirm_when_the_rumor_already_has_the_text_only_marks_confirmed(published, platform, reviewer):
    match = suspect(platform)
    svc.variant_add(rumor=published, by=reviewer, text=TEXT_RESTYLED)  # same text once normalised
    assert match_confirm(match=match, by=reviewer) is None
    assert list(published.variants.values_list("text", flat=True)) == [TEXT_RESTYLED]
    assert Match.objects.get(pk=match.pk).status == "confirmed"


def test_reject_allow_lists_the_text_so_it_stops_matching(published, platform, reviewer):
    match = suspect(platform)
    before = AuditEvent.objects.count()
    entry = match_reject(match=match, by=reviewer, reason="说的是另一件事")
    assert (entry.rumor, entry.exact_hash, entry.created_by) == (published, text_hash(TEXT), reviewer)
    match.refresh_from_db()
    assert (match.status, match.decided_by) == ("rejected", reviewer)
    assert actions()[before:] == ["allowlist.add", "match.reject"]
    assert AuditEvent.objects.get(action="match.reject").reason == "说的是另一件事"
    assert match_text(text=TEXT)["matched"] is False
    assert match_text(text=TEXT_RESTYLED)["matched"] is False  # the hash is of the normalised text
    assert decision_of(CLAIM) == "matched"  # the rumor itself still matches
    assert decision_of(OTHER) == "suspected"  # and so do other texts near it
    assert not published.variants.exists()


def test_reject_decides_same_text_posts_and_leaves_others(published, platform, reviewer):
    first = suspect(platform, TEXT, "p1")
    suspect(platform, TEXT_RESTYLED, "p2")
    suspect(platform, OTHER, "p3")
    match_reject(match=first, by=reviewer)
    statuses = dict(Match.objects.values_list("post__platform_post_id", "status"))
    assert statuses == {"p1": "rejected", "p2": "rejected", "p3": "suspected"}
    assert AllowListEntry.objects.count() == 1


def test_rejecting_the_rumors_own_text_is_refused(published, platform, reviewer):
    match = suspect(platform)
    svc.variant_add(rumor=published, by=reviewer, text=TEXT)
    before = written()
    with pytest.raises(ValidationError) as exc:
        match_reject(match=match, by=reviewer)
    assert exc.value.code == "rumor_text"
    assert written() == before


@pytest.mark.parametrize("first", [match_confirm, match_reject])
@pytest.mark.parametrize("second", [match_confirm, match_reject])
def test_deciding_twice_is_refused_and_writes_nothing(published, platform, reviewer, reviewer2, first, second):
    match = suspect(platform)
    stale = Match.objects.get(pk=match.pk)  # loaded before the decision, still says suspected
    first(match=match, by=reviewer)
    before = written()
    for target in (match, stale):
        with pytest.raises(ValidationError) as exc:
            second(match=target, by=reviewer2)
        assert exc.value.code == "already_decided"
    assert written() == before


def test_a_fact_checker_cannot_decide(published, platform, checker):
    match = suspect(platform)
    before = written()
    with pytest.raises(PermissionDenied):
        match_confirm(match=match, by=checker)
    with pytest.raises(PermissionDenied):
        match_reject(match=match, by=checker)
    assert written() == before
    assert Match.objects.get(pk=match.pk).status == "suspected"


def test_removing_an_allow_list_entry_makes_the_text_match_again(published, platform, reviewer, checker):
    entry = match_reject(match=suspect(platform), by=reviewer)
    with pytest.raises(PermissionDenied):
        allow_list_remove(entry=entry, by=checker)
    assert match_text(text=TEXT)["matched"] is False
    allow_list_remove(entry=entry, by=reviewer)
    assert not AllowListEntry.objects.exists()
    assert decision_of(TEXT) == "suspected"
    event = AuditEvent.objects.get(action="allowlist.remove")
    assert (event.actor, event.changes["exact_hash"]) == (reviewer, [text_hash(TEXT), None])


def test_confirming_a_text_that_was_allow_listed_lifts_the_allow_listing(published, platform, reviewer):
    match = suspect(platform)
    AllowListEntry.objects.create(rumor=published, exact_hash=text_hash(TEXT))  # e.g. a race with the queue
    match_confirm(match=match, by=reviewer)
    assert not AllowListEntry.objects.exists()
    assert decision_of(TEXT) == "matched"


# --- admin ---------------------------------------------------------------------------------------------------------


def changelist(client, **params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response


def listed(response) -> set[str]:
    return {m.post.platform_post_id for m in response.context["cl"].result_list}


def test_a_fact_checker_sees_the_queue_but_cannot_decide(client, published, platform, checker):
    match = suspect(platform)
    client.force_login(checker)
    response = changelist(client)
    assert listed(response) == {"p1"}
    content = response.content.decode()
    assert "confirm_selected" not in content and "reject_selected" not in content
    response = client.post(reverse(CHANGELIST), {"action": "confirm_selected", "_selected_action": [match.pk]})
    assert Match.objects.get(pk=match.pk).status == "suspected"
    detail = client.get(reverse("admin:debunk_match_change", args=[match.pk]))
    assert detail.status_code == 200 and "decide-confirm" not in detail.content.decode()
    response = client.post(reverse("admin:debunk_match_decide", args=[match.pk, "confirm"]))
    assert response.status_code == 403
    assert Match.objects.get(pk=match.pk).status == "suspected"


def test_the_queue_defaults_to_suspected_and_is_grouped_by_rumor(client, published, platform, reviewer):
    suspect(platform, TEXT, "p1")
    suspect(platform, TEXT, "p2")
    match_reject(match=suspect(platform, OTHER, "p3"), by=reviewer)
    client.force_login(reviewer)
    response = changelist(client)
    assert listed(response) == {"p1", "p2"}
    assert "2 suspected posts" in response.content.decode()
    assert listed(changelist(client, status="rejected")) == {"p3"}
    assert listed(changelist(client, status="all")) == {"p1", "p2", "p3"}
    assert listed(changelist(client, q="p2")) == {"p2"}
    assert "(2)" in changelist(client, _facets="True").content.decode()  # "suspected (2)" in the status filter
    assert listed(changelist(client, q="污水处理厂", status="all")) == {"p3"}


def test_the_post_text_is_escaped_in_the_queue(client, published, platform, reviewer):
    suspect(platform, TEXT + "<script>alert(1)</script>", "p1")
    client.force_login(reviewer)
    content = changelist(client).content.decode()
    assert "<script>alert(1)" not in content and "&lt;script&gt;" in content


def test_bulk_confirm_and_reject_through_the_admin(client, published, platform, reviewer):
    a, b = suspect(platform, TEXT, "p1"), suspect(platform, TEXT_RESTYLED, "p2")
    c = suspect(platform, OTHER, "p3")
    client.force_login(reviewer)
    url = reverse(CHANGELIST)
    response = client.post(url, {"action": "confirm_selected", "_selected_action": [a.pk, b.pk]}, follow=True)
    assert "Confirmed 2 suspected match(es); 1 new variant(s) added." in response.content.decode()
    assert decision_of(TEXT) == "matched"
    # a is no longer in the default (suspected) list; from the list of all statuses it is refused, per item
    all_url = url + "?status=all"
    response = client.post(all_url, {"action": "reject_selected", "_selected_action": [c.pk, a.pk]}, follow=True)
    content = response.content.decode()
    assert "Rejected 1 suspected match(es)" in content
    assert "already been decided" in content  # the per-item error for a
    assert dict(Match.objects.values_list("pk", "status")) == {a.pk: "confirmed", b.pk: "confirmed", c.pk: "rejected"}
    assert match_text(text=OTHER)["matched"] is False


def test_the_detail_page_shows_post_and_claim_side_by_side_and_decides(client, published, platform, reviewer):
    match = suspect(platform)
    client.force_login(reviewer)
    url = reverse("admin:debunk_match_change", args=[match.pk])
    content = client.get(url).content.decode()
    assert "match-comparison" in content and "<mark>" in content
    assert TEXT in strip_tags(content) and CLAIM in strip_tags(content)  # the post and the claim, in full
    assert "decide-confirm" in content and 'name="_save"' not in content  # buttons, but no editing
    response = client.post(reverse("admin:debunk_match_decide", args=[match.pk, "reject"]), {"reason": "无关"})
    assert response.status_code == 302 and response["Location"] == reverse(CHANGELIST)
    assert Match.objects.get(pk=match.pk).status == "rejected"
    assert AuditEvent.objects.get(action="match.reject").reason == "无关"
    response = client.post(reverse("admin:debunk_match_decide", args=[match.pk, "confirm"]), follow=True)
    assert "already been decided" in response.content.decode()
    assert Match.objects.get(pk=match.pk).status == "rejected"
    assert client.get(url).status_code == 200


def test_matches_cannot_be_added_or_deleted_in_the_admin(client, published, platform, reviewer):
    match = suspect(platform)
    client.force_login(reviewer)
    assert client.get(reverse("admin:debunk_match_add")).status_code == 403
    assert client.post(reverse("admin:debunk_match_delete", args=[match.pk]), {"post": "yes"}).status_code == 403
    assert Match.objects.filter(pk=match.pk).exists()


def test_allow_list_admin_shows_the_text_and_reviewers_delete_through_the_service(
    client, published, platform, reviewer, checker
):
    entry = match_reject(match=suspect(platform), by=reviewer)
    client.force_login(checker)
    response = client.get(reverse("admin:debunk_allowlistentry_changelist"))
    assert response.status_code == 200 and "明天起全市停水一周" in response.content.decode()
    delete_url = reverse("admin:debunk_allowlistentry_delete", args=[entry.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    client.force_login(reviewer)
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not AllowListEntry.objects.exists()
    assert AuditEvent.objects.get(action="allowlist.remove").actor == reviewer
    assert decision_of(TEXT) == "suspected"


def test_allow_list_bulk_delete_goes_through_the_service(client, published, platform, reviewer):
    entries = [match_reject(match=suspect(platform, t, i), by=reviewer) for t, i in [(TEXT, "p1"), (OTHER, "p2")]]
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:debunk_allowlistentry_changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AllowListEntry.objects.exists()
    assert AuditEvent.objects.filter(action="allowlist.remove").count() == 2


def test_allow_list_bulk_delete_refusal_is_a_message_and_the_other_rows_go_on(
    client, published, platform, reviewer, monkeypatch
):
    third = CLAIM.replace("自来水厂", "净水厂").replace("赶紧囤水", "多买桶装水")
    texts = [(TEXT, "p1"), (OTHER, "p2"), (third, "p3")]
    entries = [match_reject(match=suspect(platform, t, i), by=reviewer) for t, i in texts]
    refused = entries[1]
    real = suspect_services.allow_list_remove

    def refusing(*, entry, by, reason=""):  # a refusal the confirmation page could not foresee (a race)
        if entry.pk == refused.pk:
            raise ValidationError("Decided again meanwhile.")
        real(entry=entry, by=by, reason=reason)

    monkeypatch.setattr(suspect_services, "allow_list_remove", refusing)
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:debunk_allowlistentry_changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(AllowListEntry.objects.values_list("pk", flat=True)) == [refused.pk]
    assert AuditEvent.objects.filter(action="allowlist.remove").count() == 2
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert shown == [("error", f"{refused}: Decided again meanwhile."), ("info", "Deleted 2 allow-list.")]


def test_posts_are_read_only_and_searchable_by_platform_post_id(client, published, platform, checker):
    match = suspect(platform, TEXT, "weibo-4711")
    suspect(platform, OTHER, "weibo-0815")
    client.force_login(checker)
    response = client.get(reverse("admin:debunk_post_changelist"), {"q": "weibo-4711"})
    assert [p.pk for p in response.context["cl"].result_list] == [match.post_id]
    detail = client.get(reverse("admin:debunk_post_change", args=[match.post_id]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:debunk_post_add")).status_code == 403
