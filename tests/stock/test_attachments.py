"""Evidence uploads are checked by content: real images only, within limits, EXIF stripped, hashed."""

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from debunk.core.models import AuditEvent
from debunk.stock.attachments import attachment_add, check_upload
from debunk.stock.models import Attachment
from tests.factories import make_rumor


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg_with_gps(size=(800, 600)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_image_is_stored_without_exif_with_thumbnail_and_hashes(checker, media):
    rumor = make_rumor(checker)
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif()  # the upload does carry EXIF
    attachment = attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(data), name="../../etc/photo.jpg")
    stored = attachment.file.read()
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert attachment.sha256 == hashlib.sha256(stored).hexdigest()
    assert attachment.original_sha256 == hashlib.sha256(data).hexdigest()
    assert (attachment.kind, attachment.content_type, attachment.width, attachment.height) == (
        "image",
        "image/jpeg",
        800,
        600,
    )
    assert attachment.original_name == "photo.jpg"  # no path from the client
    thumb = Image.open(attachment.thumbnail.path)
    assert max(thumb.size) == 320
    assert AuditEvent.objects.filter(action="attachment.add", changes__sha256__1=attachment.sha256).exists()


def test_pdf_and_text_documents_are_accepted(checker):
    rumor = make_rumor(checker)
    pdf = attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(b"%PDF-1.7\n%fake but pdf-shaped\n"), name="a.pdf")
    txt = attachment_add(rumor=rumor, by=checker, upload=io.BytesIO("官方通报全文".encode()), name="note.txt")
    assert (pdf.kind, pdf.content_type) == ("document", "application/pdf")
    assert (txt.kind, txt.content_type) == ("document", "text/plain; charset=utf-8")


@pytest.mark.parametrize(
    "payload, code",
    [
        (jpeg_with_gps()[:400], "broken_image"),  # a real JPEG header, truncated
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 4, "unsupported"),  # an .exe named .jpg
        (b"", "empty"),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused(checker, payload, code):
    with pytest.raises(ValidationError) as exc:
        check_upload(io.BytesIO(payload), "photo.jpg")
    assert exc.value.code == code


def test_oversized_upload_is_refused(checker, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as exc:
        check_upload(io.BytesIO(jpeg_with_gps()), "big.jpg")
    assert exc.value.code == "too_large"


def test_decompression_bomb_is_refused_and_nothing_is_stored(checker, settings, media):
    rumor = make_rumor(checker)
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, format="PNG")  # 144 Mpx that compresses to a few KB
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ValidationError) as exc:
        attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(bomb.getvalue()), name="bomb.png")
    assert exc.value.code == "too_many_pixels"
    assert Attachment.objects.count() == 0
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_animation_with_too_many_frames_is_refused(checker):
    frame = b"\x2c" + b"\x00\x00\x00\x00\x01\x00\x01\x00" + b"\x00" + b"\x02\x02\x44\x01\x00"  # a 1x1 frame at (0, 0)
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff" + frame * 1001 + b"\x3b"
    with pytest.raises(ValidationError) as exc:
        check_upload(io.BytesIO(gif), "many.gif")
    assert exc.value.code == "too_many_frames"
    assert check_upload(io.BytesIO(gif[: 19 + 15 * 2] + b"\x3b"), "two.gif").kind == "image"
