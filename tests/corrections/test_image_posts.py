"""Image posts in the archive (POST /api/v1/posts with `image`): matched by their hash on arrival, read (OCR) later by
a task queued through the outbox, found again by the re-scan when a rumor is published (or gets an image) after
them, and corrected like text posts; bad pictures are their item's error and leave nothing stored."""

import hashlib
import io
import logging
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import ImageFilter

from debunk.core.models import QueuedTask
from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Correction
from debunk.corrections.tasks import post_image_read_task
from debunk.images.pipeline import fingerprint_image
from debunk.matching.models import Fingerprint, Match, Post
from debunk.stock import rumors as rumor_services
from debunk.stock.attachments import attachment_add
from debunk.stock.models import Attachment
from tests.factories import make_rumor, publish_rumor
from tests.images.test_match_api import BAD_IMAGES, b64, encode, picture, rumor_with_image, screenshot_png, stored_files
from tests.redis_server import celery_broker, free_port

POSTS = "/api/v1/posts"
AT = "2026-11-20T08:00:00Z"
SEEN = "2026-11-20T09:00:00Z"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run on-commit work (Celery tasks are eager in tests) as a committed transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def image_item(pid: str, data: bytes, **extra) -> dict:
    return {"platform_post_id": pid, "image": b64(data), "posted_at": AT, **extra}


def send(client, path: str, items: list, run_commits=None) -> dict:
    if run_commits is None:
        response = client.post(path, {"items": items}, format="json")
    else:
        with run_commits():
            response = client.post(path, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def seen_by(client, *pairs: tuple[str, str]) -> None:
    items = [{"platform_post_id": p, "user_ref": u, "interaction": "share", "at": SEEN} for p, u in pairs]
    assert send(client, "/api/v1/exposures", items)["errors"] == []


def corrected(rumor) -> set[str]:
    return set(Correction.objects.filter(rumor=rumor, kind="correction").values_list("user_hash", flat=True))


def matches(rumor) -> set[tuple[str, str, str]]:
    return set(Match.objects.filter(rumor=rumor).values_list("post__platform_post_id", "via", "status"))


def publish_with_image(checker, reviewer, data: bytes, claim: str):
    rumor = make_rumor(checker, claim=claim)
    attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(data), name="rumor.png", role=Attachment.Role.RUMOR_IMAGE)
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    return rumor


# ---- arrival: by hash now, by the text read later ---------------------------------------------------------------


def test_an_image_post_matched_by_its_hash_corrects_the_users_who_saw_it(
    client_for, platform, checker, reviewer, run_commits
):
    with run_commits():
        rumor = rumor_with_image(checker, reviewer, seed=11)
    seen_by(client_for, ("p1", "u1"))  # reported before its post: joined when it arrives
    copy = encode(picture(11).resize((700, 525)), quality=45)
    [result] = send(client_for, POSTS, [image_item("p1", copy, author_ref="a1")], run_commits)["results"]
    assert result == {"platform_post_id": "p1", "created": True, "matches": [{"rumor_id": rumor.pk, "status": "auto"}]}
    post = Post.objects.get(platform_post_id="p1")
    expected = fingerprint_image(copy)
    assert post.archived and post.text == "" and post.image.read() == copy
    assert post.image_sha256 == hashlib.sha256(copy).hexdigest()
    assert bytes(post.image_pdq) == expected.pdq.bits and post.image_quality == expected.quality >= 50
    assert post.ocr_text == "" and not QueuedTask.objects.exists()  # a confident hash match is not read
    assert not Fingerprint.objects.filter(post=post).exists()  # no text, nothing to fingerprint
    match = Match.objects.get(post=post)
    assert (match.rumor, match.via, match.status) == (rumor, "image_hash", "auto") and 0 <= match.distance <= 31
    assert corrected(rumor) == {pseudonym(platform, "u1")}


def test_an_image_post_without_a_hash_match_is_read_later_and_corrected(
    client_for, platform, checker, reviewer, run_commits
):
    claim, png = screenshot_png(0)
    with run_commits():
        rumor = publish_rumor(checker, reviewer, claim=claim)
    seen_by(client_for, ("shot", "u1"))
    with run_commits():
        [result] = send(client_for, POSTS, [image_item("shot", png, text="大家看看这个")])["results"]
        assert result["matches"] == [] and not Correction.objects.exists()  # the text is read after commit
    post = Post.objects.get(platform_post_id="shot")
    assert post.text == "大家看看这个" and "停水" in post.ocr_text
    match = Match.objects.get(post=post)
    assert (match.rumor, match.via, match.status) == (rumor, "ocr", "auto") and match.containment >= 0.8
    assert match.distance is None
    assert corrected(rumor) == {pseudonym(platform, "u1")}
    # idempotent: read again (from the stored text), nothing new
    assert post_image_read_task(post.pk) == "read"
    post.refresh_from_db()
    assert "停水" in post.ocr_text and Match.objects.count() == 1 and Correction.objects.count() == 1


def test_the_reading_is_queued_through_the_outbox_and_waits_there_while_the_broker_is_down(
    client_for, django_capture_on_commit_callbacks
):
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        send(client_for, POSTS, [image_item("p1", encode(picture(55))), {"platform_post_id": "t", "text": "日常"}])
    post = Post.objects.get(platform_post_id="p1")
    assert list(QueuedTask.objects.values_list("task", "args")) == [("debunk.tasks.post_image_read", [post.pk])]


def test_a_suspected_hash_match_is_raised_to_auto_by_the_text_read_in_the_picture(
    client_for, platform, checker, reviewer, run_commits, settings
):
    settings.IMAGE_HASH_AUTO_DISTANCE = -1  # every hash match is only a suspected one: the picture is read
    claim, png = screenshot_png(2)
    with run_commits():
        rumor = publish_with_image(checker, reviewer, png, claim)
    seen_by(client_for, ("shot", "u1"))
    [result] = send(client_for, POSTS, [image_item("shot", png)])["results"]  # commits not run: not read yet
    assert result["matches"] == [{"rumor_id": rumor.pk, "status": "suspected"}]
    assert matches(rumor) == {("shot", "image_hash", "suspected")} and not Correction.objects.exists()
    post = Post.objects.get(platform_post_id="shot")
    with run_commits():
        assert post_image_read_task(post.pk) == "matched"
    assert matches(rumor) == {("shot", "ocr", "auto")}
    assert corrected(rumor) == {pseudonym(platform, "u1")}


# ---- the re-scan: a rumor published (or given an image) after the posts ----------------------------------------


def test_a_rumor_published_after_image_posts_finds_them_by_hash_and_by_the_text_read(
    client_for, platform, checker, reviewer, run_commits
):
    claim, png = screenshot_png(1)
    items = [
        image_item("copy", encode(picture(31).resize((800, 600)), quality=70)),
        image_item("shot", png),
        image_item("other", encode(picture(55))),
    ]
    results = send(client_for, POSTS, items, run_commits)["results"]
    assert [r["matches"] for r in results] == [[], [], []]  # no rumor yet
    assert "香蕉" in Post.objects.get(platform_post_id="shot").ocr_text  # read on arrival, kept
    seen_by(client_for, ("copy", "u1"), ("shot", "u2"), ("other", "u3"))
    with run_commits():
        rumor = rumor_with_image(checker, reviewer, seed=31, claim=claim)
    assert matches(rumor) == {("copy", "image_hash", "auto"), ("shot", "ocr", "auto")}
    assert Match.objects.get(post__platform_post_id="copy").distance <= 31
    assert corrected(rumor) == {pseudonym(platform, "u1"), pseudonym(platform, "u2")}


def test_an_image_added_to_a_published_rumor_reaches_the_image_posts_already_archived(
    client_for, platform, checker, reviewer, run_commits, settings
):
    settings.IMAGE_OCR = False
    with run_commits():
        rumor = publish_rumor(checker, reviewer, claim="网传某地发现巨型海怪，渔民不敢出海，已有多人目击")
    send(client_for, POSTS, [image_item("p1", encode(picture(32), quality=80))], run_commits)
    seen_by(client_for, ("p1", "u1"))
    assert not Match.objects.exists()
    with run_commits():
        evidence = io.BytesIO(encode(picture(32)))
        attachment_add(rumor=rumor, by=checker, upload=evidence, name="32.jpg", role=Attachment.Role.EVIDENCE)
    assert not Match.objects.exists()  # evidence is not an image of the rumor: nothing to look for
    with run_commits():
        attachment_add(
            rumor=rumor,
            by=checker,
            upload=io.BytesIO(encode(picture(32))),
            name="32.jpg",
            role=Attachment.Role.RUMOR_IMAGE,
        )
    assert matches(rumor) == {("p1", "image_hash", "auto")}
    assert corrected(rumor) == {pseudonym(platform, "u1")}


def test_the_re_scan_respects_an_allow_listed_picture_and_untrusted_hashes(
    client_for, checker, reviewer, run_commits, settings
):
    from debunk.images.models import ImageFingerprint
    from debunk.matching.models import AllowListEntry

    settings.IMAGE_OCR = False
    settings.IMAGE_HASH_MIN_QUALITY = 85
    allowed = encode(picture(33), quality=80)
    blurred = encode(picture(36).filter(ImageFilter.GaussianBlur(16)), quality=80)  # near scene 36, but flatter
    sharp = encode(picture(11), quality=80)
    items = [
        image_item("allowed", allowed),
        image_item("blurred", blurred),
        image_item("flat", encode(picture(23))),
        image_item("sharp", sharp),
    ]
    send(client_for, POSTS, items)
    rumor = make_rumor(checker, claim="网传某地发现巨型海怪，渔民不敢出海，已有多人目击")
    images = {
        "33.jpg": picture(33),
        "36.jpg": picture(36),
        "23.jpg": picture(23),
        "11b.jpg": picture(11).filter(ImageFilter.GaussianBlur(16)),  # the rumor's copy of scene 11 is the flat one
    }
    for name, image in images.items():
        upload = io.BytesIO(encode(image))
        attachment_add(rumor=rumor, by=checker, upload=upload, name=name, role=Attachment.Role.RUMOR_IMAGE)
    posts = dict(Post.objects.values_list("platform_post_id", "image_quality"))
    assert posts["allowed"] >= 85 and posts["sharp"] >= 85 > posts["blurred"] >= 50 > posts["flat"]
    stock = dict(ImageFingerprint.objects.values_list("attachment__original_name", "quality"))
    assert stock["33.jpg"] >= 85 and stock["36.jpg"] >= 85 > stock["11b.jpg"] >= 50 > stock["23.jpg"]
    AllowListEntry.objects.create(rumor=rumor, exact_hash=hashlib.sha256(allowed).hexdigest())
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    with run_commits():
        rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    assert not Match.objects.exists()
    settings.IMAGE_HASH_MIN_QUALITY = 50  # the blurred copies' hashes are trusted now: found
    with run_commits():
        rumor_services.rumor_update(rumor=rumor, by=reviewer, claim=rumor.claim + "！")  # a new text: re-scanned
    assert matches(rumor) == {("blurred", "image_hash", "auto"), ("sharp", "image_hash", "auto")}


# ---- bad input and idempotence ---------------------------------------------------------------------------------


def test_bad_images_are_their_items_errors_and_nothing_of_them_is_stored(client_for, media, settings):
    settings.IMAGE_OCR = False
    items = [image_item("good", encode(picture(41))), {"platform_post_id": "nothing", "author_ref": "a"}]
    items += [{"platform_post_id": f"bad {case}", "image": value} for case, (value, _) in sorted(BAD_IMAGES.items())]
    items.append({"platform_post_id": "bad with text", "text": "一段正常的文字", "image": "not base64!"})
    results = send(client_for, POSTS, items)["results"]
    assert results[0]["created"] is True
    assert results[1] == {"platform_post_id": "nothing", "error": {"text": ["Send a text, an image or both."]}}
    for (case, (_, words)), result in zip(sorted(BAD_IMAGES.items()), results[2:-1], strict=True):
        assert result["platform_post_id"] == f"bad {case}"
        [message] = result["error"]["image"]
        assert words in message, (case, message)
    assert "base64" in results[-1]["error"]["image"][0]
    assert list(Post.objects.values_list("platform_post_id", flat=True)) == ["good"]
    assert len(stored_files(media)) == 1


def test_too_many_images_or_too_large_a_body_is_refused_whole(client_for, media, settings):
    settings.MATCH_BATCH_MAX_IMAGES = 1
    items = [image_item("a", encode(picture(41))), image_item("b", encode(picture(42)))]
    response = client_for.post(POSTS, {"items": items}, format="json")
    assert response.status_code == 400 and "image" in response.json()["items"][0]
    settings.MATCH_BATCH_MAX_IMAGES = 50
    settings.API_IMAGE_BODY_MAX_BYTES = 1000
    response = client_for.post(POSTS, {"items": items}, format="json")
    assert response.status_code == 413 and "1,000" in response.json()["detail"]
    assert not Post.objects.exists() and stored_files(media) == []


def test_a_body_between_the_default_and_the_image_limit_is_accepted(client_for, settings):
    settings.IMAGE_OCR = False
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    data = encode(picture(41))
    assert len(data) > 2000
    assert send(client_for, POSTS, [image_item("p", data)])["results"][0]["created"] is True


def test_a_post_keeps_its_first_image(client_for, checker, reviewer, media, settings):
    settings.IMAGE_OCR = False
    first, second = encode(picture(41)), encode(picture(42))
    send(client_for, POSTS, [image_item("p", first)])
    again = send(client_for, POSTS, [image_item("p", second), image_item("p", first)])["results"]
    assert [r["created"] for r in again] == [False, False]
    post = Post.objects.get()
    assert post.image.read() == first and post.image_sha256 == hashlib.sha256(first).hexdigest()
    assert len(stored_files(media)) == 1
    # a post the match API queued with its picture keeps it when the platform reports it with another one
    settings.IMAGE_HASH_AUTO_DISTANCE = -1
    rumor = rumor_with_image(checker, reviewer, seed=43)
    queued = encode(picture(43), quality=60)
    body = {"image": b64(queued), "ocr": "off", "platform_post_id": "q"}
    assert client_for.post(reverse("api:match"), body, format="json").json()["action"] == "review"
    [result] = send(client_for, POSTS, [image_item("q", encode(picture(44)))])["results"]
    assert result["created"] is True and result["matches"] == [{"rumor_id": rumor.pk, "status": "suspected"}]
    post = Post.objects.get(platform_post_id="q")
    assert post.archived and post.image_sha256 == hashlib.sha256(queued).hexdigest()
    assert post.image.read() == queued


def test_an_unreadable_stored_image_is_logged_and_skipped(client_for, caplog):
    send(client_for, POSTS, [image_item("p", encode(picture(45)))])  # commits not run: not read yet
    post = Post.objects.get()
    path = Path(post.image.path)
    path.write_bytes(b"this is no longer a picture")
    with caplog.at_level(logging.WARNING, logger="debunk.corrections"):
        assert post_image_read_task(post.pk) == "unreadable"
    assert f"post {post.pk}" in caplog.text and "not_an_image" in caplog.text
    path.unlink()
    assert post_image_read_task(post.pk) == "unreadable"
    post.refresh_from_db()
    assert post.ocr_text == "" and not Match.objects.exists()
    assert post_image_read_task(10**9) == "skipped"
