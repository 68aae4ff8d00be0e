"""POST /api/v1/match and /match/batch with images: matches by perceptual hash and by the text read in the picture
(OCR), the answer's shape (`via`, `distance`, `ocr_text`, `pending`), the index kept fresh, match jobs, and every
bad input refused with a 400 (or a 413 for a body too large) and nothing stored."""

import base64
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image, ImageOps

from debunk.images.models import MatchJob
from debunk.matching.models import Match, Post
from debunk.stock import rumors as rumor_services
from debunk.stock.attachments import attachment_add
from debunk.stock.models import Attachment
from tests.api.conftest import api_client, make_key, make_platform
from tests.factories import make_rumor, publish_rumor
from tests.images.scenes import scene

MATCH = reverse("api:match")
BATCH = reverse("api:match-batch")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def client(db):
    return api_client(make_key(make_platform())[1])


def picture(seed: int, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    return Image.fromarray(scene(seed, *size))


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def rumor_with_image(author, reviewer, seed: int, **fields):
    rumor = make_rumor(author, **fields)
    attachment_add(
        rumor=rumor,
        by=author,
        upload=io.BytesIO(encode(picture(seed), quality=92)),
        name=f"{seed}.jpg",
        role=Attachment.Role.RUMOR_IMAGE,
    )
    rumor_services.rumor_submit(rumor=rumor, by=author)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    return rumor


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file() and "attachments" not in p.parts]


# ---- matches by hash -------------------------------------------------------------------------------------------


def test_a_recompressed_resized_copy_matches_by_its_hash_with_the_same_answer_shape(client, checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=11)
    copy = encode(picture(11).resize((700, 525)), quality=45)
    answer = client.post(MATCH, {"image": b64(copy)}, format="json").json()
    assert answer["matched"] is True and answer["action"] == rumor.verdict.default_action
    [match] = answer["matches"]
    assert match["rumor_id"] == rumor.pk and match["via"] == "image_hash" and match["decision"] == "matched"
    assert 0 <= match["distance"] <= 31 and match["evidence"] == []
    assert match["debunk"]["title"] and match["verdict"]["code"] == "false"
    assert answer["image"]["quality"] >= 50 and len(answer["image"]["pdq"]) == 64
    assert answer["pending"] is False and "ocr_text" not in answer  # a confident hash match is not read


def test_a_mirrored_copy_matches_and_an_unrelated_picture_does_not(client, checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=12)
    mirrored = encode(ImageOps.mirror(picture(12)), quality=80)
    answer = client.post(MATCH, {"image": b64(mirrored), "ocr": "off"}, format="json").json()
    assert [(m["rumor_id"], m["via"]) for m in answer["matches"]] == [(rumor.pk, "image_hash")]
    other = client.post(MATCH, {"image": b64(encode(picture(99))), "ocr": "off"}, format="json").json()
    assert other["matched"] is False and other["action"] == "allow" and other["matches"] == []


def test_multipart_upload_answers_as_json_base64_does(client, checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=13)
    upload = io.BytesIO(encode(picture(13), "PNG"))
    upload.name = "shot.png"
    answer = client.post(MATCH, {"image": upload, "ocr": "off", "lang": "en"}, format="multipart").json()
    assert [m["rumor_id"] for m in answer["matches"]] == [rumor.pk]
    assert answer["matches"][0]["verdict"]["text"] == "False"


def test_text_and_image_together_report_both_rumors(client, checker, reviewer):
    by_image = rumor_with_image(checker, reviewer, seed=14, claim="网传某地发现巨型海怪，渔民不敢出海")
    by_text = publish_rumor(checker, reviewer)  # the factory's default claim
    body = {"text": by_text.claim, "image": b64(encode(picture(14))), "ocr": "off"}
    answer = client.post(MATCH, body, format="json").json()
    found = {m["rumor_id"]: m["via"] for m in answer["matches"]}
    assert found == {by_image.pk: "image_hash", by_text.pk: "text"}


def test_cmyk_and_exif_rotated_copies_match_like_the_original(client, checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=21)
    cmyk = encode(picture(21).convert("CMYK"), quality=90)
    turned = picture(21).rotate(90, expand=True)  # stored sideways, EXIF says "rotate 270 to show"
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encode(turned, quality=90, exif=exif.tobytes())
    for data in (cmyk, rotated):
        answer = client.post(MATCH, {"image": b64(data), "ocr": "off"}, format="json").json()
        assert [m["rumor_id"] for m in answer["matches"]] == [rumor.pk]
        assert answer["matches"][0]["distance"] <= 31


def test_a_flat_picture_whose_hash_says_little_is_not_matched_by_it(client, checker, reviewer):
    rumor_with_image(checker, reviewer, seed=23)  # PDQ quality 31: neither indexed nor trusted as a query
    answer = client.post(MATCH, {"image": b64(encode(picture(23))), "ocr": "off"}, format="json").json()
    assert answer["image"]["quality"] < 50 and answer["matched"] is False


def test_the_image_index_follows_publish_retract_and_a_new_image_of_a_published_rumor(client, checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=16)
    query = {"image": b64(encode(picture(16))), "ocr": "off"}
    assert client.post(MATCH, query, format="json").json()["matched"] is True
    rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="新证据")
    assert client.post(MATCH, query, format="json").json()["matched"] is False
    later = publish_rumor(checker, reviewer, claim="网传另一则谣言，与图片无关")
    query = {"image": b64(encode(picture(17))), "ocr": "off"}
    assert client.post(MATCH, query, format="json").json()["matched"] is False
    attachment_add(
        rumor=later,
        by=reviewer,
        upload=io.BytesIO(encode(picture(17))),
        name="17.jpg",
        role=Attachment.Role.RUMOR_IMAGE,
    )
    assert [m["rumor_id"] for m in client.post(MATCH, query, format="json").json()["matches"]] == [later.pk]


def test_a_near_copy_between_the_distances_is_queued_with_its_picture(client, checker, reviewer, settings, media):
    settings.IMAGE_HASH_AUTO_DISTANCE = -1  # every hash match is then only a suspected one
    rumor = rumor_with_image(checker, reviewer, seed=18)
    body = {"image": b64(encode(picture(18), quality=40)), "ocr": "off", "platform_post_id": "p-18"}
    answer = client.post(MATCH, body, format="json").json()
    assert answer["action"] == "review" and answer["matches"][0]["decision"] == "suspected"
    match = Match.objects.get(post__platform_post_id="p-18")
    assert (match.rumor_id, match.via, match.status) == (rumor.pk, "image_hash", "suspected")
    assert match.distance == answer["matches"][0]["distance"]
    post = match.post
    assert post.image and post.image_sha256 == answer["image"]["sha256"] and post.text == ""
    assert post.image.read() == base64.b64decode(body["image"])


# ---- reading the text in the picture ---------------------------------------------------------------------------


def screenshot_png(seed: int = 0) -> tuple[str, bytes]:
    from debunk.bench.ocr import CLAIMS, cjk_font_path, weibo_post

    if cjk_font_path() is None:
        pytest.skip("no CJK font (Debian fonts-noto-cjk) to render a screenshot")
    return CLAIMS[seed % len(CLAIMS)], encode(Image.fromarray(weibo_post(seed).pixels), "PNG")


def test_a_screenshot_of_a_rumor_matches_by_the_text_read_in_it(client, checker, reviewer, settings):
    settings.IMAGE_OCR_BUDGET_SECONDS = 60  # the first reading of a process also loads the models
    claim, png = screenshot_png(0)
    rumor = publish_rumor(checker, reviewer, claim=claim)
    answer = client.post(MATCH, {"image": b64(png)}, format="json").json()
    [match] = answer["matches"]
    assert (match["rumor_id"], match["via"], match["decision"]) == (rumor.pk, "ocr", "matched")
    assert match["containment"] >= 0.8 and "distance" not in match
    text = answer["ocr_text"]
    assert answer["pending"] is False and answer["ocr_ms"] > 0
    start, end = match["evidence"][0]["post_span"]
    assert 0 <= start < end <= len(text) and text[start:end] in claim.replace("，", "").replace("。", "") + text


def test_ocr_later_answers_pending_and_the_job_matches_the_text(
    client, checker, reviewer, django_capture_on_commit_callbacks, media
):
    claim, png = screenshot_png(1)
    rumor = publish_rumor(checker, reviewer, claim=claim)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(MATCH, {"image": b64(png), "ocr": "later"}, format="json").json()
    assert answer["pending"] is True and answer["matched"] is False and "ocr_text" not in answer
    job = MatchJob.objects.get(pk=answer["job_id"])
    assert job.status == "done" and job.finished_at is not None
    [result] = job.results
    assert [(m["rumor_id"], m["via"]) for m in result["matches"]] == [(rumor.pk, "ocr")]
    assert stored_files(media) == []  # the job's image is removed once it is done


def test_a_reading_over_the_budget_becomes_a_job(client, checker, reviewer, settings):
    settings.IMAGE_OCR_BUDGET_SECONDS = 0.001
    _, png = screenshot_png(2)
    publish_rumor(checker, reviewer)
    answer = client.post(MATCH, {"image": b64(png)}, format="json").json()
    assert answer["pending"] is True and MatchJob.objects.filter(pk=answer["job_id"], status="pending").exists()


# ---- batches ----------------------------------------------------------------------------------------------------


def test_a_batch_hashes_its_images_now_and_reads_the_rest_later(client, checker, reviewer, settings):
    rumor = rumor_with_image(checker, reviewer, seed=19)
    items = [
        {"id": "copy", "image": b64(encode(picture(19), quality=60))},
        {"id": "new", "image": b64(encode(picture(55)))},
        {"id": "text", "text": rumor.claim},
        {"id": "bad", "image": "not base64!"},
    ]
    results = client.post(BATCH, {"items": items}, format="json").json()["results"]
    by_id = {r["id"]: r for r in results}
    assert [m["via"] for m in by_id["copy"]["matches"]] == ["image_hash"] and by_id["copy"]["pending"] is False
    assert by_id["new"]["pending"] is True and by_id["new"]["job_id"]
    assert [m["via"] for m in by_id["text"]["matches"]] == ["text"]
    assert "base64" in by_id["bad"]["error"]["image"][0]
    job = MatchJob.objects.get(pk=by_id["new"]["job_id"])
    assert [item["id"] for item in job.items] == ["new"]
    settings.MATCH_BATCH_MAX_IMAGES = 1
    response = client.post(BATCH, {"items": items}, format="json")
    assert response.status_code == 400 and "image" in response.json()["items"][0]


# ---- bad input -------------------------------------------------------------------------------------------------


def png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + (width + 7) // 8)
    idat = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_with_frames(frames: int) -> bytes:
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


BAD_IMAGES = {
    "not base64": ("%%%", "base64"),
    "data url": ("data:image/png;base64," + b64(b"x" * 30), "data:"),
    "a url": ("https://example.com/rumor.jpg", "link"),
    "empty": ("", "empty"),
    "not an image": (b64("这不是图片".encode() * 20), "not an image"),
    "truncated": (b64(encode(Image.new("RGB", (400, 300), (9, 90, 200)), "PNG")[:120]), "truncated"),
    "too many pixels": (b64(png_bomb(8000, 6000)), "pixels"),
    "decompression bomb": (b64(png_bomb(30000, 30000)), "pixels"),
    "unsupported format": (b64(encode(Image.new("RGB", (40, 30)), "TIFF")), "not accepted"),
    "animated gif bomb": (b64(gif_with_frames(5000)), "frames"),
    "not a string": (12345, "base64"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_a_bad_image_is_a_400_on_the_image_field_and_nothing_is_stored(client, case, media):
    value, words = BAD_IMAGES[case]
    response = client.post(MATCH, {"image": value, "platform_post_id": "p1"}, format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["image"]
    assert words in message
    assert not Post.objects.exists() and not MatchJob.objects.exists() and stored_files(media) == []


def test_an_image_over_10_mb_is_refused_and_a_body_over_the_image_limit_is_a_413(client, settings):
    data = b"\xff\xd8" + b"\x00" * (settings.UPLOAD_MAX_BYTES + 10)
    response = client.post(MATCH, {"image": b64(data)}, format="json")
    assert response.status_code == 400 and "larger than" in response.json()["image"][0]
    settings.API_IMAGE_BODY_MAX_BYTES = 1000
    response = client.post(MATCH, {"image": b64(data[:2000])}, format="json")
    assert response.status_code == 413 and "1,000" in response.json()["detail"]


def test_other_endpoints_keep_the_default_body_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    big = {
        "items": [{"platform_post_id": "p", "user_ref": "u" * 100, "interaction": "view", "at": "2026-01-01T00:00:00Z"}]
        * 40
    }
    assert client.post(reverse("api:exposures"), big, format="json").status_code == 413
    settings.API_IMAGE_BODY_MAX_BYTES = 20_000
    assert client.post(MATCH, {"text": "短" * 1500}, format="json").status_code == 200  # 4.5 kB: the image limit


def test_neither_text_nor_image_is_a_400(client):
    response = client.post(MATCH, {"platform_post_id": "x"}, format="json")
    assert response.status_code == 400 and response.json() == {"text": ["Send a text, an image or both."]}


def test_a_url_is_never_fetched(client, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for url in ("http://127.0.0.1:9/x.png", "https://example.com/a.jpg"):
        assert client.post(MATCH, {"image": url}, format="json").status_code == 400
        upload = io.BytesIO(url.encode())
        upload.name = "x.png"
        assert client.post(MATCH, {"image": upload}, format="multipart").status_code == 400


def test_an_empty_multipart_image_part_is_an_empty_image(client):
    response = client.post(MATCH, {"image": "", "text": "帖子"}, format="multipart")
    assert response.status_code == 400 and response.json() == {"image": ["The image is empty."]}


def test_multipart_fields_are_held_to_the_schema_like_json(client):
    upload = io.BytesIO(encode(picture(11), "PNG"))
    upload.name = "a.png"
    response = client.post(MATCH, {"image": upload, "text": "", "ocr": "off"}, format="multipart")
    assert response.status_code == 400 and response.json() == {"text": ["This field may not be blank."]}
    upload.seek(0)
    response = client.post(MATCH, {"image": upload, "context": "", "ocr": "off"}, format="multipart")
    assert response.status_code == 400 and "context" in response.json()
