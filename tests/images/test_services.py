"""Rumor-image fingerprints are stored on upload and publish through the pipeline, kept idempotent, removed with
their attachment, skipped (with a log line) for unreadable files, and recomputed by `images_reindex`."""

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from debunk.images.hashing import MATCH_DISTANCE, PdqHash
from debunk.images.models import ImageFingerprint
from debunk.images.pipeline import ALGORITHM, dihedral_from_bits, fingerprint_image
from debunk.images.services import image_fingerprints_sync
from debunk.stock import rumors as rumor_services
from debunk.stock.attachments import attachment_add, attachment_remove
from debunk.stock.models import Attachment
from tests.factories import make_rumor
from tests.images.scenes import scene

ROOT = Path(__file__).resolve().parents[2]
RUMOR_IMAGE = Attachment.Role.RUMOR_IMAGE


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg(seed: int, size: tuple[int, int] = (1024, 768)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(scene(seed, *size)).save(out, "JPEG", quality=90)
    return out.getvalue()


def add_image(rumor, by, seed: int, role: str = RUMOR_IMAGE) -> Attachment:
    return attachment_add(rumor=rumor, by=by, upload=io.BytesIO(jpeg(seed)), name=f"{seed}.jpg", role=role)


def publish(rumor, author, reviewer) -> None:
    rumor_services.rumor_submit(rumor=rumor, by=author)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)


def test_uploading_a_rumor_image_stores_its_fingerprint_through_the_pipeline(checker):
    rumor = make_rumor(checker)
    attachment = add_image(rumor, checker, seed=1)
    row = ImageFingerprint.objects.get(attachment=attachment)
    expected = fingerprint_image(attachment.file.open("rb").read())  # the stored (re-encoded) file's print
    assert (row.rumor_id, row.algorithm, row.width, row.height) == (rumor.pk, ALGORITHM, 1024, 768)
    assert bytes(row.pdq) == expected.pdq.bits and row.quality == expected.quality
    assert dihedral_from_bits(row.dihedral, row.quality) == expected.dihedral
    assert row.ocr_text == "" and row.pdq_hex == expected.pdq.hex
    # the stored copy is still the uploaded picture: a query of the upload meets it
    assert PdqHash(bytes(row.pdq), row.quality).distance(fingerprint_image(jpeg(1)).pdq) <= MATCH_DISTANCE


def test_evidence_and_documents_get_no_image_fingerprint(checker):
    rumor = make_rumor(checker)
    add_image(rumor, checker, seed=2, role=Attachment.Role.EVIDENCE)
    attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(b"%PDF-1.7\n%x\n"), name="a.pdf", role=RUMOR_IMAGE)
    assert not ImageFingerprint.objects.exists()


def test_publishing_computes_the_missing_fingerprints(checker, reviewer):
    rumor = make_rumor(checker)
    first, second = add_image(rumor, checker, seed=3), add_image(rumor, checker, seed=4)
    ImageFingerprint.objects.all().delete()  # images stored before fingerprints existed
    publish(rumor, checker, reviewer)
    rows = ImageFingerprint.objects.filter(rumor=rumor)
    assert sorted(rows.values_list("attachment_id", flat=True)) == [first.pk, second.pk]
    assert rows[0].pdq != rows[1].pdq


def test_resync_is_idempotent_and_force_recomputes_in_place(checker):
    rumor = make_rumor(checker)
    attachment = add_image(rumor, checker, seed=5)
    before = ImageFingerprint.objects.get()
    result = image_fingerprints_sync(rumor)
    assert (result.computed, result.kept, result.removed, result.skipped) == (0, 1, 0, 0)
    forced = image_fingerprints_sync(rumor, force=True)
    assert (forced.computed, forced.kept) == (1, 0)
    after = ImageFingerprint.objects.get()
    assert (after.pk, after.attachment_id, bytes(after.pdq)) == (before.pk, attachment.pk, bytes(before.pdq))


def test_fingerprints_of_an_older_algorithm_are_replaced(checker):
    rumor = make_rumor(checker)
    add_image(rumor, checker, seed=6)
    ImageFingerprint.objects.update(algorithm="pdq-full-v0", ocr_text="")
    result = image_fingerprints_sync(rumor)
    assert (result.computed, result.removed) == (1, 1)
    assert list(ImageFingerprint.objects.values_list("algorithm", flat=True)) == [ALGORITHM]


def test_removing_the_attachment_removes_its_fingerprint(checker):
    rumor = make_rumor(checker)
    kept, removed = add_image(rumor, checker, seed=7), add_image(rumor, checker, seed=8)
    attachment_remove(attachment=removed, by=checker)
    assert list(ImageFingerprint.objects.values_list("attachment_id", flat=True)) == [kept.pk]


def test_an_unreadable_stored_file_is_logged_and_skipped_and_publish_still_succeeds(checker, reviewer, media, caplog):
    rumor = make_rumor(checker)
    good, bad, gone = (add_image(rumor, checker, seed=s) for s in (9, 10, 11))
    ImageFingerprint.objects.all().delete()
    Path(bad.file.path).write_bytes(b"\xff\xd8\xff\xe0 not a jpeg any more")  # damaged on disk
    Path(gone.file.path).unlink()  # lost from storage
    with caplog.at_level(logging.WARNING, logger="debunk.images"):
        publish(rumor, checker, reviewer)
    rumor.refresh_from_db()
    assert rumor.status == rumor.Status.PUBLISHED
    assert list(ImageFingerprint.objects.values_list("attachment_id", flat=True)) == [good.pk]
    messages = [r.getMessage() for r in caplog.records if r.name == "debunk.images"]
    assert any(f"attachment {bad.pk} " in m and "truncated" in m for m in messages), messages
    assert any(f"attachment {gone.pk} " in m and "FileNotFoundError" in m for m in messages), messages


def test_images_reindex_recomputes_every_rumor_image_and_reports_progress(checker):
    rumors = [make_rumor(checker, claim=f"网传第{i}张图片里的说法是真的，大家快转发") for i in range(3)]
    for i, rumor in enumerate(rumors):
        add_image(rumor, checker, seed=20 + i)
    add_image(rumors[0], checker, seed=30, role=Attachment.Role.EVIDENCE)
    ImageFingerprint.objects.filter(rumor=rumors[1]).delete()
    orphan = ImageFingerprint.objects.get(rumor=rumors[2])
    ImageFingerprint.objects.filter(pk=orphan.pk).update(algorithm="pdq-old")  # and one outdated row
    out, err = io.StringIO(), io.StringIO()
    call_command("images_reindex", stdout=out, stderr=err)
    assert ImageFingerprint.objects.filter(algorithm=ALGORITHM).count() == 3
    assert not ImageFingerprint.objects.exclude(algorithm=ALGORITHM).exists()
    assert "3 image fingerprint(s) computed, 0 kept, 1 removed, 0 unreadable" in out.getvalue()
    assert "images_reindex" in err.getvalue() and "3/3" in err.getvalue()  # the progress bar
    out = io.StringIO()
    call_command("images_reindex", "--missing", stdout=out, stderr=io.StringIO())
    assert "0 image fingerprint(s) computed, 3 kept, 0 removed" in out.getvalue()


def test_images_reindex_drops_fingerprints_of_images_no_longer_there_and_counts_unreadable(checker, media):
    rumor, other = make_rumor(checker), make_rumor(checker, claim="另一条谣言：某地明天全面停电一整天")
    attachment = add_image(rumor, checker, seed=40)
    broken = add_image(other, checker, seed=41)
    Attachment.objects.filter(pk=attachment.pk).update(role=Attachment.Role.EVIDENCE)  # no longer a rumor image
    Path(broken.file.path).write_bytes(b"garbage")
    out = io.StringIO()
    call_command("images_reindex", stdout=out, stderr=io.StringIO())
    assert "0 image fingerprint(s) computed, 0 kept, 1 removed, 1 unreadable image(s) skipped" in out.getvalue()
    # the broken file's earlier fingerprint (same immutable picture) is kept rather than lost
    assert list(ImageFingerprint.objects.values_list("attachment_id", flat=True)) == [broken.pk]


@pytest.mark.django_db
def test_images_reindex_on_an_empty_stock():
    out = io.StringIO()
    call_command("images_reindex", stdout=out, stderr=io.StringIO())
    assert "0 image fingerprint(s) computed" in out.getvalue()


def test_makemigrations_check_is_clean():
    done = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DEBUG": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rumor_admin_page_lists_its_image_fingerprints_read_only(client, checker):
    from django.urls import reverse

    rumor = make_rumor(checker)
    add_image(rumor, checker, seed=50)
    row = ImageFingerprint.objects.get()
    client.force_login(checker)
    page = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert row.pdq_hex in html and ALGORITHM in html and "1024 × 768" in html
    for field in ("pdq", "ocr_text", "algorithm", "DELETE"):  # read-only: nothing to edit or delete
        assert f'name="image_fingerprints-0-{field}"' not in html


def test_a_rumor_image_text_is_read_after_its_upload(checker, settings, django_capture_on_commit_callbacks):
    from debunk.bench.ocr import CLAIMS, cjk_font_path, weibo_post

    if cjk_font_path() is None:
        pytest.skip("no CJK font (Debian fonts-noto-cjk) to render a screenshot")
    settings.IMAGE_OCR_STOCK = True
    rumor = make_rumor(checker)
    out = io.BytesIO()
    Image.fromarray(weibo_post(3).pixels).save(out, "PNG")
    with django_capture_on_commit_callbacks(execute=True):
        attachment = attachment_add(
            rumor=rumor, by=checker, upload=io.BytesIO(out.getvalue()), name="s.png", role=RUMOR_IMAGE
        )
    row = ImageFingerprint.objects.get(attachment=attachment)
    claim = CLAIMS[3 % len(CLAIMS)]
    assert claim[:8] in row.ocr_text.replace("\n", "")
