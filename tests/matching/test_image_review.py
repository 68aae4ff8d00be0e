"""Reviewing matches found through a post's picture: confirming adds the picture to the rumor's images (its copies then
match automatically), rejecting allow-lists that picture for that rumor only; the queue shows the pictures side by
side. Matches via the post's text keep the text review (tests/matching/test_suspects.py)."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import strip_tags
from PIL import Image

from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.images.models import ImageFingerprint
from debunk.images.services import query_image
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.services import MatchRequest, match_many
from debunk.matching.suspects import allow_list_text, allow_listed, match_confirm, match_reject
from debunk.stock.attachments import attachment_add
from debunk.stock.models import Attachment, RumorVariant
from labels.models import VerdictLabel
from tests.factories import publish_rumor
from tests.images.test_match_api import encode, picture, rumor_with_image

SEED = 31  # the post's picture: the rumor's turned by 2°, 36 bits of 256 away (queued: auto <= 31 < 36 <= 40)
CLAIM = "网传某地发现巨型海怪，渔民不敢出海，视频已经传遍全网"
CHANGELIST = "admin:debunk_match_changelist"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def english_admin(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


@pytest.fixture
def rumor(checker, reviewer):
    return rumor_with_image(checker, reviewer, seed=SEED, claim=CLAIM)


def turned(seed: int = SEED, quality: int = 60) -> bytes:
    """The rumor's picture turned by 2° and recompressed: near, but not near enough to match automatically."""
    return encode(picture(seed).rotate(2), quality=quality)


def ask(data: bytes, platform=None, post_id: str = "", text: str = "", ocr_text: str | None = None) -> dict:
    request = MatchRequest(text, platform_post_id=post_id, image=query_image(data), ocr="off", ocr_text=ocr_text)
    return match_many([request], platform=platform)[0]


def found(answer: dict) -> dict[int, tuple[str, str]]:
    return {m["rumor_id"]: (m["via"], m["decision"]) for m in answer["matches"]}


def image_suspect(platform, rumor, post_id: str = "i1", data: bytes | None = None, text: str = "") -> Match:
    answer = ask(data or turned(), platform, post_id, text)
    assert found(answer)[rumor.pk] == ("image_hash", "suspected"), answer
    return Match.objects.get(post__platform_post_id=post_id, rumor=rumor)


@pytest.fixture
def ocr_thresholds(db, settings):
    settings.IMAGE_OCR = True
    verdict = VerdictLabel.objects.get(code="false")
    verdict.ocr_auto_containment, verdict.ocr_review_containment = 0.99, 0.3
    verdict.save()


READ = "微博用户 10分钟前\n网传某地发现巨型海怪，渔民不敢出海\n转发 128  评论 64"  # a screenshot's text, read


def ocr_suspect(platform, post_id: str = "o1", seed: int = 77) -> Match:
    """A screenshot (a picture no rumor has) whose text, already read, contains most of the claim."""
    answer = ask(encode(picture(seed)), platform, post_id, ocr_text=READ)
    [decision] = found(answer).values()
    assert decision == ("ocr", "suspected"), answer
    return Match.objects.get(post__platform_post_id=post_id)


def actions(since: int = 0) -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))[since:]


def written() -> tuple:
    return (
        AuditEvent.objects.count(),
        AllowListEntry.objects.count(),
        RumorVariant.objects.count(),
        Attachment.objects.count(),
        sorted(Match.objects.values_list("pk", "status", "decided_by")),
    )


# --- rejecting: the picture is allow-listed for that rumor ------------------------------------------------------------


def test_rejecting_an_image_match_allow_lists_the_picture_for_that_rumor_only(
    platform, checker, reviewer, rumor, settings
):
    twin = rumor_with_image(checker, reviewer, seed=SEED, claim="另一则谣言，配了同一张图片")
    data = turned()
    assert found(ask(data)) == {rumor.pk: ("image_hash", "suspected"), twin.pk: ("image_hash", "suspected")}
    match = image_suspect(platform, rumor, data=data)
    before = AuditEvent.objects.count()
    entry = match_reject(match=match, by=reviewer, reason="图片相似但内容无关")
    post = match.post
    assert (entry.rumor, entry.exact_hash, entry.created_by) == (rumor, post.image_sha256, reviewer)
    assert actions(before) == ["allowlist.add", "match.reject"]
    added = AuditEvent.objects.get(action="allowlist.add")
    assert added.changes["exact_hash"] == [None, post.image_sha256] and "text" not in added.changes
    assert added.changes["image"] == [None, {"post": post.pk, "file": post.image.name}]
    assert added.reason == "图片相似但内容无关"
    assert allow_listed(entry).kind == "image" and allow_list_text(entry) == ""
    assert Match.objects.get(pk=match.pk).status == "rejected"
    # the same file no longer matches that rumor, still matches the other one
    assert found(ask(data)) == {twin.pk: ("image_hash", "suspected")}
    # another file of the same picture is another question: it still matches both
    assert set(found(ask(turned(quality=70)))) == {rumor.pk, twin.pk}
    assert Match.objects.get(post=post, rumor=twin).status == "suspected"  # the twin's match waits for its review


def test_rejecting_decides_every_suspected_post_with_the_same_picture_and_no_other(platform, reviewer, rumor):
    data = turned()
    first = image_suspect(platform, rumor, "i1", data)
    image_suspect(platform, rumor, "i2", data, text="配文不同，图片相同")
    image_suspect(platform, rumor, "i3", turned(quality=70))  # the same picture, another file
    match_reject(match=first, by=reviewer)
    statuses = dict(Match.objects.values_list("post__platform_post_id", "status"))
    assert statuses == {"i1": "rejected", "i2": "rejected", "i3": "suspected"}
    assert AuditEvent.objects.filter(action="match.reject").count() == 2
    assert AllowListEntry.objects.count() == 1


def test_rejecting_one_of_the_rumors_own_pictures_is_refused_and_writes_nothing(
    platform, checker, reviewer, rumor, settings
):
    data = turned()
    match = image_suspect(platform, rumor, data=data)
    attachment_add(
        rumor=rumor, by=checker, upload=io.BytesIO(data), name="turned.jpg", role=Attachment.Role.RUMOR_IMAGE
    )
    before = written()
    with pytest.raises(ValidationError) as exc:
        match_reject(match=match, by=reviewer)
    assert exc.value.code == "rumor_image"
    assert written() == before


def test_a_match_via_the_image_whose_post_kept_no_picture_is_refused(platform, reviewer, rumor):
    match = image_suspect(platform, rumor)
    Post.objects.filter(pk=match.post_id).update(image="")
    match = Match.objects.select_related("post").get(pk=match.pk)
    before = written()
    for decide in (match_confirm, match_reject):
        with pytest.raises(ValidationError) as exc:
            decide(match=match, by=reviewer)
        assert exc.value.code == "no_image"
    assert written() == before


def test_a_fact_checker_cannot_decide_an_image_match(platform, checker, rumor):
    match = image_suspect(platform, rumor)
    before = written()
    for decide in (match_confirm, match_reject):
        with pytest.raises(PermissionDenied):
            decide(match=match, by=checker)
    assert written() == before


# --- confirming: the picture joins the rumor's images ---------------------------------------------------------------


def test_confirming_an_image_match_adds_the_picture_and_its_copies_then_match_automatically(platform, reviewer, rumor):
    data = turned()
    match = image_suspect(platform, rumor, data=data)
    post = match.post
    before = AuditEvent.objects.count()
    attachment = match_confirm(match=match, by=reviewer)
    assert (attachment.rumor, attachment.role, attachment.kind) == (rumor, "rumor_image", "image")
    assert attachment.original_sha256 == post.image_sha256 and attachment.uploaded_by == reviewer
    assert actions(before) == ["attachment.add", "match.confirm"]
    event = AuditEvent.objects.get(action="match.confirm")
    assert event.changes == {"status": ["suspected", "confirmed"], "attachment": [None, attachment.pk]}
    assert not RumorVariant.objects.exists()  # no empty text added as a variant
    assert ImageFingerprint.objects.filter(attachment=attachment).exists()
    # the same file, and another copy of it, now match automatically (the rumor is published: the index was bumped)
    for copy in (data, encode(Image.open(io.BytesIO(data)), quality=85)):
        [m] = ask(copy)["matches"]
        assert (m["rumor_id"], m["via"], m["decision"]) == (rumor.pk, "image_hash", "matched")
        assert m["distance"] <= 8


def test_confirming_decides_the_same_picture_together_and_adds_it_once(platform, reviewer, rumor):
    data = turned()
    first = image_suspect(platform, rumor, "i1", data)
    image_suspect(platform, rumor, "i2", data)
    image_suspect(platform, rumor, "i3", turned(quality=70))
    match_confirm(match=first, by=reviewer)
    statuses = dict(Match.objects.values_list("post__platform_post_id", "status"))
    assert statuses == {"i1": "confirmed", "i2": "confirmed", "i3": "suspected"}
    assert rumor.attachments.filter(role="rumor_image").count() == 2


def test_confirming_a_picture_the_rumor_already_has_only_marks_it_confirmed(platform, checker, reviewer, rumor):
    data = turned()
    match = image_suspect(platform, rumor, data=data)
    attachment_add(
        rumor=rumor, by=checker, upload=io.BytesIO(data), name="turned.jpg", role=Attachment.Role.RUMOR_IMAGE
    )
    count = Attachment.objects.count()
    assert match_confirm(match=match, by=reviewer) is None
    assert Attachment.objects.count() == count
    assert Match.objects.get(pk=match.pk).status == "confirmed"
    assert AuditEvent.objects.get(action="match.confirm").changes["attachment"] == [None, None]


def test_confirming_a_picture_that_was_allow_listed_lifts_the_allow_listing(platform, reviewer, rumor):
    data = turned()
    match = image_suspect(platform, rumor, data=data)
    AllowListEntry.objects.create(rumor=rumor, exact_hash=match.post.image_sha256)  # e.g. a race with the queue
    assert found(ask(data)) == {}
    match_confirm(match=match, by=reviewer)
    assert not AllowListEntry.objects.exists()
    assert AuditEvent.objects.get(action="allowlist.remove").changes["exact_hash"][0] == match.post.image_sha256
    assert found(ask(data)) == {rumor.pk: ("image_hash", "matched")}


def test_confirming_a_bmp_keeps_it_as_png(platform, reviewer, rumor):
    match = image_suspect(platform, rumor, data=encode(picture(SEED).rotate(2), "BMP"))
    attachment = match_confirm(match=match, by=reviewer)
    assert attachment.content_type == "image/png" and attachment.file.name.endswith(".png")
    assert attachment.original_sha256 == match.post.image_sha256  # still recognised as the post's file


# --- matches via the text read in the picture, and via the text sent with it ----------------------------------------


def test_an_ocr_match_is_decided_on_the_picture(platform, checker, reviewer, ocr_thresholds):
    rumor = publish_rumor(checker, reviewer, claim=CLAIM)
    match = ocr_suspect(platform, "o1", seed=77)
    entry = match_reject(match=match, by=reviewer)
    assert entry.exact_hash == match.post.image_sha256 and allow_listed(entry).kind == "image"
    assert found(ask(encode(picture(77)), ocr_text=READ)) == {}  # that screenshot no longer matches the rumor
    assert found(ask(encode(picture(78)), ocr_text=READ)) == {rumor.pk: ("ocr", "suspected")}  # another one does
    other = ocr_suspect(platform, "o2", seed=78)
    attachment = match_confirm(match=other, by=reviewer)
    assert attachment.role == "rumor_image" and attachment.original_sha256 == other.post.image_sha256
    assert not RumorVariant.objects.exists()


def test_a_post_with_text_and_picture_matched_via_its_text_keeps_the_text_review(platform, checker, reviewer):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    rumor = publish_rumor(checker, reviewer, claim=CLAIM)
    text = CLAIM.replace("渔民不敢出海", "渔民纷纷上岸")
    answer = ask(encode(picture(80)), platform, "t1", text=text)
    assert found(answer) == {rumor.pk: ("text", "suspected")}
    match = Match.objects.get(post__platform_post_id="t1")
    assert match.post.image  # the picture was kept, but the question is the text
    variant = match_confirm(match=match, by=reviewer)
    assert variant.text == text and not rumor.attachments.filter(role="rumor_image").exists()


# --- the admin --------------------------------------------------------------------------------------------------------


def test_the_queue_shows_via_and_the_pictures_and_filters_by_via(client, platform, checker, reviewer, rumor):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    match = image_suspect(platform, rumor)
    ask(encode(picture(81)), platform, "t1", text=CLAIM.replace("渔民不敢出海", "渔民纷纷上岸"))
    client.force_login(checker)
    response = client.get(reverse(CHANGELIST))
    content = response.content.decode()
    assert {m.via for m in response.context["cl"].result_list} == {"image_hash", "text"}
    preview = reverse("admin:debunk_post_preview", args=[match.post_id]) + "?size=s"
    assert preview in content  # the post's picture, through the protected view
    assert rumor.attachments.get().thumbnail.url in content  # beside the rumor's
    assert f"({match.distance}/256)" in content and "[image]" in content
    assert match.post.image.url not in content  # never the post's file under the media URL
    only = client.get(reverse(CHANGELIST), {"via": "image_hash"}).context["cl"].result_list
    assert [m.pk for m in only] == [match.pk]


def test_the_detail_page_shows_the_pictures_side_by_side_with_their_distances(client, platform, checker, rumor):
    match = image_suspect(platform, rumor)
    client.force_login(checker)
    content = client.get(reverse("admin:debunk_match_change", args=[match.pk])).content.decode()
    assert "match-images" in content
    assert reverse("admin:debunk_post_preview", args=[match.post_id]) + "?size=m" in content
    assert reverse("admin:debunk_post_image", args=[match.post_id]) in content
    assert match.post.image.url not in content
    attachment = rumor.attachments.get()
    assert attachment.thumbnail.url in content and attachment.file.url in content
    text = strip_tags(content)
    assert f"distance {match.distance}/256" in text  # the rumor's one image is the nearest
    assert "Hash distance 36/256" in text and "up to 31" in text and "up to 40" in text
    assert match.post.image_sha256 in text and CLAIM in text


def test_the_detail_page_of_an_ocr_match_marks_the_claim_in_the_text_read(
    client, platform, checker, reviewer, ocr_thresholds
):
    publish_rumor(checker, reviewer, claim=CLAIM)
    match = ocr_suspect(platform)
    client.force_login(reviewer)
    content = client.get(reverse("admin:debunk_match_change", args=[match.pk])).content.decode()
    assert "<mark>" in content and "text read from the image" in strip_tags(content)
    assert "Containment" in content and "Confirm: add as image of the rumor" in content
    assert "Reject: allow-list this image" in content


def test_deciding_image_matches_in_the_admin(client, platform, checker, reviewer, rumor):
    a = image_suspect(platform, rumor, "i1")
    b = image_suspect(platform, rumor, "i2", turned(quality=70))
    client.force_login(reviewer)
    response = client.post(reverse(CHANGELIST), {"action": "confirm_selected", "_selected_action": [a.pk]}, follow=True)
    assert (
        "Confirmed 1 suspected match(es); 0 new variant(s) and 1 new rumor image(s) added." in response.content.decode()
    )
    response = client.post(reverse("admin:debunk_match_decide", args=[b.pk, "reject"]), {"reason": "无关"}, follow=True)
    assert "Rejected." in response.content.decode()
    assert dict(Match.objects.values_list("pk", "status")) == {a.pk: "confirmed", b.pk: "rejected"}
    entry = AllowListEntry.objects.get()
    assert entry.exact_hash == b.post.image_sha256
    # the allow-list says it is a picture, and shows it through the protected preview
    content = client.get(reverse("admin:debunk_allowlistentry_changelist")).content.decode()
    assert "allow-listed-image" in content
    assert reverse("admin:debunk_post_preview", args=[b.post_id]) + "?size=s" in content


def test_bulk_reject_of_image_matches_says_images_are_allow_listed(client, platform, reviewer, rumor):
    a = image_suspect(platform, rumor, "i1")
    client.force_login(reviewer)
    response = client.post(reverse(CHANGELIST), {"action": "reject_selected", "_selected_action": [a.pk]}, follow=True)
    assert "Rejected 1 suspected match(es); their images are allow-listed." in response.content.decode()


def test_a_confirmation_that_fails_late_leaves_no_attachment_and_no_file(platform, reviewer, rumor, media, monkeypatch):
    from debunk.matching import suspects

    match = image_suspect(platform, rumor)
    files_before = sorted(p for p in media.rglob("*") if p.is_file())
    before = written()

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(suspects, "_decide", failing)
    with pytest.raises(RuntimeError):
        match_confirm(match=match, by=reviewer)
    assert written() == before
    assert sorted(p for p in media.rglob("*") if p.is_file()) == files_before


def test_confirming_when_the_posts_file_is_gone_is_refused(platform, reviewer, rumor):
    match = image_suspect(platform, rumor)
    match.post.image.storage.delete(match.post.image.name)
    before = written()
    with pytest.raises(ValidationError) as exc:
        match_confirm(match=match, by=reviewer)
    assert exc.value.code == "image_unreadable"
    assert written() == before
