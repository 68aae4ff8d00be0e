"""import_rumors / export_rumors with rumor images: paths relative to the JSONL file, checked as uploads before
anything of the record is written, not added twice, and written back beside the export so that it round-trips."""

import hashlib
import io
import json
import os
import re
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import translation
from PIL import Image, ImageDraw

from debunk.core.models import AuditEvent
from debunk.images.models import ImageFingerprint
from debunk.management.commands.export_rumors import Command as ExportCommand
from debunk.stock import importer
from debunk.stock.importer import import_records, parse_lines
from debunk.stock.models import Attachment, Rumor
from tests.images.test_decode import png_bomb
from tests.stock.test_import_export import GOOD

OTHER = {**GOOD, "external_id": "t-2", "claim": "另一条谣言：某地停电一周", "variants": []}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def picture(fmt: str = "PNG", colour=(30, 120, 200), size=(240, 180)) -> bytes:
    """A small picture with some structure (so that its PDQ hash has quality)."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 150, 150), fill=(250, 200, 0))
    draw.rectangle((160, 40, 220, 160), fill=(10, 10, 10))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write(directory: Path, *records) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "rumors.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def run(*args, stdin: str | None = None, monkeypatch=None):
    out, err = StringIO(), StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", StringIO(stdin))
    call_command("import_rumors", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_import_attaches_two_images_with_role_fingerprints_and_audit(db, tmp_path, media):
    data = tmp_path / "data"
    png = put(data / "photos" / "dam.png", picture("PNG")).read_bytes()
    jpeg = put(data / "photos" / "flood.jpg", picture("JPEG", colour=(200, 40, 40))).read_bytes()
    out, err = run(write(data, {**GOOD, "images": ["photos/dam.png", "./photos/flood.jpg"]}))
    assert "1 created" in out, err
    rumor = Rumor.objects.get(external_id="t-1")
    images = list(rumor.attachments.order_by("pk"))
    assert [(a.role, a.kind) for a in images] == [(Attachment.Role.RUMOR_IMAGE, Attachment.Kind.IMAGE)] * 2
    assert [a.original_name for a in images] == ["dam.png", "flood.jpg"]
    assert [a.original_sha256 for a in images] == [sha(png), sha(jpeg)]
    assert [a.content_type for a in images] == ["image/png", "image/jpeg"]
    assert all(a.uploaded_by.username == "system-importer" for a in images)
    fingerprints = ImageFingerprint.objects.filter(rumor=rumor)
    assert sorted(fingerprints.values_list("attachment_id", flat=True)) == [a.pk for a in images]  # one each
    assert all(len(bytes(fp.pdq)) == 32 for fp in fingerprints)
    added = AuditEvent.objects.filter(action="attachment.add")
    assert sorted(added.values_list("changes__sha256__1", flat=True)) == sorted(a.sha256 for a in images)
    assert len(stored_files(media)) == 4  # two files, two thumbnails


def test_the_same_file_listed_twice_is_attached_once(db, tmp_path):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    put(data / "copy.png", picture())
    run(write(data, {**GOOD, "images": ["a.png", "copy.png", "a.png"]}))
    assert Attachment.objects.count() == 1


def test_publish_keeps_the_fingerprints_computed_at_import(db, tmp_path):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    out, _ = run(write(data, {**GOOD, "images": ["a.png"]}), "--publish")
    assert "1 published" in out
    assert ImageFingerprint.objects.count() == 1
    assert Rumor.objects.get().status == Rumor.Status.PUBLISHED


def bad_cases(tmp_path: Path) -> dict[str, tuple[object, str]]:
    """Each bad image entry (the files are real, so that only the reason named is wrong) and its message."""
    data = tmp_path / "data"
    put(tmp_path / "outside.png", picture())
    put(data / "notes.txt", "官方通报全文".encode())
    put(data / "report.pdf", b"%PDF-1.7\n%pdf-shaped\n")
    put(data / "bomb.png", png_bomb(10_000, 10_000))  # 100 Mpx declared, a few kB on disk
    put(data / "broken.png", picture()[:200])
    (data / "folder").mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / "outside.png", data / "link.png")
    return {
        "absolute": (str(tmp_path / "outside.png"), "absolute paths are refused"),
        "escape": ("../outside.png", "leads outside the JSONL file's directory"),
        "escape inside": ("photos/../../outside.png", "leads outside the JSONL file's directory"),
        "symlink out": ("link.png", "leads outside the JSONL file's directory"),
        "missing": ("nope.png", "no such file"),
        "directory": ("folder", "not a regular file"),
        "empty path": ("", "the path is empty"),
        "text": ("notes.txt", "not an image"),
        "pdf": ("report.pdf", "not an image"),
        "bomb": ("bomb.png", "too many pixels"),
        "broken": ("broken.png", "damaged or truncated"),
    }


BAD = [
    "absolute",
    "escape",
    "escape inside",
    "symlink out",
    "missing",
    "directory",
    "empty path",
    "text",
    "pdf",
    "bomb",
    "broken",
]


@pytest.mark.parametrize("case", BAD)
def test_each_bad_image_refuses_its_record_with_line_and_reason(db, tmp_path, media, english, case):
    path, message = bad_cases(tmp_path)[case]
    data = tmp_path / "data"
    put(data / "good.png", picture())
    jsonl = write(data, OTHER, {**GOOD, "images": ["good.png", path]})
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported: 1 invalid line"):
        call_command("import_rumors", jsonl, stdout=StringIO(), stderr=err)
    reported = err.getvalue()
    assert reported.startswith("line 2: image 2 ("), reported
    assert message in reported
    assert Rumor.objects.count() == 0 and AuditEvent.objects.count() == 0
    assert stored_files(media) == []
    # with --skip-invalid the other record goes on, the bad one is refused whole (its good image too)
    out, err = run(jsonl, "--skip-invalid")
    assert "1 created" in out and "1 skipped" in out
    assert message in err
    assert list(Rumor.objects.values_list("external_id", flat=True)) == ["t-2"]
    assert Attachment.objects.count() == 0 and stored_files(media) == []


def test_image_over_the_byte_limit_is_refused(db, tmp_path, settings, english):
    settings.UPLOAD_MAX_BYTES = 1000
    data = tmp_path / "data"
    put(data / "big.png", picture(size=(400, 300)))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_rumors", write(data, {**GOOD, "images": ["big.png"]}), stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("line 1: image 1 (") and "larger than" in err.getvalue()
    assert Rumor.objects.count() == 0


def test_image_errors_are_reported_in_the_default_language(db, tmp_path):
    data = tmp_path / "data"
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_rumors", write(data, {**GOOD, "images": ["nope.png"]}), stdout=StringIO(), stderr=err)
    assert "图片 1" in err.getvalue() and "文件不存在" in err.getvalue()


@pytest.mark.parametrize(
    "images, message",
    [
        ("a.png", "'images' must be a list of file paths"),
        ([1], "'images' must be a list of file paths"),
        ([f"{n}.png" for n in range(21)], "'images' lists 21 files; a record may have at most 20"),
    ],
)
def test_images_field_shape_and_limit(db, tmp_path, english, images, message):
    data = tmp_path / "data"
    for n in range(21):
        put(data / f"{n}.png", picture(colour=(n * 10, 0, 0)))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_rumors", write(data, {**GOOD, "images": images}), stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("line 1: ") and message in err.getvalue()


def test_twenty_images_are_accepted(db, tmp_path):
    data = tmp_path / "data"
    for n in range(20):
        put(data / f"{n}.png", picture(colour=(n * 10, 0, 0)))
    run(write(data, {**GOOD, "images": [f"{n}.png" for n in range(20)]}))
    assert Attachment.objects.count() == 20 and ImageFingerprint.objects.count() == 20


def test_reimport_adds_no_image_twice(db, tmp_path, media):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    put(data / "b.jpg", picture("JPEG", colour=(200, 40, 40)))
    jsonl = write(data, {**GOOD, "images": ["a.png", "b.jpg"]})
    run(jsonl)
    files, events = stored_files(media), AuditEvent.objects.count()
    out, _ = run(jsonl)
    assert "0 created, 1 updated" in out
    assert Attachment.objects.count() == 2 and ImageFingerprint.objects.count() == 2
    assert AuditEvent.objects.count() == events  # nothing changed, nothing recorded
    assert stored_files(media) == files
    # a third image in a later version of the record is the only one added
    put(data / "c.png", picture(colour=(0, 200, 0)))
    run(write(data, {**GOOD, "images": ["c.png", "b.jpg", "a.png"]}))
    assert Attachment.objects.count() == 3
    assert Attachment.objects.order_by("pk").last().original_name == "c.png"


def test_image_stored_as_evidence_is_still_added_as_rumor_image(db, tmp_path, checker):
    from debunk.stock.attachments import attachment_add

    data = tmp_path / "data"
    png = put(data / "a.png", picture()).read_bytes()
    run(write(data, GOOD))
    attachment_add(rumor=Rumor.objects.get(), by=checker, upload=io.BytesIO(png), name="a.png")
    run(write(data, {**GOOD, "images": ["a.png"]}))
    assert sorted(Attachment.objects.values_list("role", flat=True)) == ["evidence", "rumor_image"]


def test_images_from_stdin_start_at_the_current_directory(db, tmp_path, monkeypatch, english):
    put(tmp_path / "cwd" / "photos" / "a.png", picture())
    monkeypatch.chdir(tmp_path / "cwd")
    line = json.dumps({**GOOD, "images": ["photos/a.png"]}, ensure_ascii=False) + "\n"
    out, _ = run("-", stdin=line, monkeypatch=monkeypatch)
    assert "1 created" in out and Attachment.objects.count() == 1
    put(tmp_path / "outside.png", picture(colour=(0, 200, 0)))
    back_in = json.dumps({**OTHER, "images": ["../cwd/photos/a.png"]}, ensure_ascii=False) + "\n"
    out, _ = run("-", stdin=back_in, monkeypatch=monkeypatch)  # `..` that stays inside is fine
    assert "1 created" in out and Attachment.objects.count() == 2
    escape = json.dumps({**OTHER, "external_id": "t-3", "images": ["../outside.png"]}, ensure_ascii=False) + "\n"
    err = StringIO()
    monkeypatch.setattr(sys, "stdin", StringIO(escape))
    with pytest.raises(CommandError):
        call_command("import_rumors", "-", stdout=StringIO(), stderr=err)
    assert "leads outside" in err.getvalue()


def test_image_changed_between_check_and_write_refuses_the_import(db, tmp_path, media, monkeypatch, english):
    """Past the memory budget the file is read again before the write: different bytes are refused, and the
    files already stored for earlier records of the (rolled back) import are deleted."""
    monkeypatch.setattr(importer, "CHECKED_IMAGES_KEPT", 0)
    data = tmp_path / "data"
    put(data / "a.png", picture())
    put(data / "b.png", picture(colour=(0, 200, 0)))
    records, errors = parse_lines(
        (json.dumps(r, ensure_ascii=False) for r in [{**OTHER, "images": ["a.png"]}, {**GOOD, "images": ["b.png"]}]),
        base_dir=data,
    )
    assert not errors and all(image.checked is None for r in records for image in r.images)
    put(data / "b.png", picture(colour=(0, 0, 200)))  # still a good image, but not the one checked
    from debunk.core.roles import REVIEWER, system_user

    with pytest.raises(
        ValidationError, match=re.escape('line 2: image "b.png": the file changed after it was checked')
    ):
        import_records(records, by=system_user("system-importer", REVIEWER))
    assert Rumor.objects.count() == 0 and Attachment.objects.count() == 0
    assert stored_files(media) == []  # a.png's file and thumbnail, stored for line 1, went with the rollback


def test_unchanged_file_is_checked_again_past_the_memory_budget(db, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHECKED_IMAGES_KEPT", 0)
    data = tmp_path / "data"
    put(data / "a.png", picture())
    run(write(data, {**GOOD, "images": ["a.png"]}))
    assert Attachment.objects.get().original_name == "a.png"


def export(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("export_rumors", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rumors_as_text() -> dict[str, tuple]:
    return {
        r.external_id: (
            r.claim,
            r.verdict.code,
            r.category.code,
            [v.text for v in r.variants.all()],
            r.debunks.get().body,
        )
        for r in Rumor.objects.all()
    }


def test_export_then_import_into_an_empty_database_round_trips_images(db, tmp_path, media, settings):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    put(data / "b.jpg", picture("JPEG", colour=(200, 40, 40)))
    put(data / "c.gif", picture("GIF", colour=(0, 200, 0)))
    run(write(data, {**GOOD, "images": ["a.png", "b.jpg"]}, {**OTHER, "images": ["c.gif"]}), "--publish")
    before = rumors_as_text()
    stored = {
        r.external_id: [(a.file.read(), a.content_type) for a in r.attachments.order_by("pk")]
        for r in Rumor.objects.all()
    }
    pdq = {
        r.external_id: [bytes(a.image_fingerprints.get().pdq) for a in r.attachments.order_by("pk")]
        for r in Rumor.objects.all()
    }

    out_file = tmp_path / "export" / "out.jsonl"
    out_file.parent.mkdir()
    _, err = export("-o", str(out_file))
    assert "3 image(s)" in err
    records = {r["external_id"]: r for r in map(json.loads, out_file.read_text(encoding="utf-8").splitlines())}
    t1 = Rumor.objects.get(external_id="t-1")
    assert records["t-1"]["images"] == [f"out_images/{t1.pk}/1.png", f"out_images/{t1.pk}/2.jpg"]
    for external_id, images in stored.items():
        written = [(out_file.parent / path).read_bytes() for path in records[external_id]["images"]]
        assert written == [content for content, _ in images]  # the stored bytes, as they are

    # re-importing the export into the same database adds nothing
    events = AuditEvent.objects.count()
    stdout, _ = run(str(out_file))
    assert "0 created, 2 updated" in stdout
    assert Attachment.objects.count() == 3 and AuditEvent.objects.count() == events

    Rumor.objects.all().delete()
    assert Attachment.objects.count() == 0 and ImageFingerprint.objects.count() == 0
    settings.MEDIA_ROOT = tmp_path / "media2"
    stdout, _ = run(str(out_file), "--publish")
    assert "2 created" in stdout
    assert rumors_as_text() == before
    for external_id, images in stored.items():
        attachments = list(Rumor.objects.get(external_id=external_id).attachments.order_by("pk"))
        # what was imported is exactly what had been stored
        assert [a.original_sha256 for a in attachments] == [sha(content) for content, _ in images]
        assert [a.content_type for a in attachments] == [content_type for _, content_type in images]
        assert all(a.role == Attachment.Role.RUMOR_IMAGE for a in attachments)
        assert [a.image_fingerprints.count() for a in attachments] == [1] * len(images)
        for attachment, (content, content_type), old_pdq in zip(attachments, images, pdq[external_id], strict=True):
            if content_type in ("image/png", "image/gif"):  # lossless: the upload checks re-encode to the same bytes
                assert attachment.file.read() == content
                assert bytes(attachment.image_fingerprints.get().pdq) == old_pdq


def test_export_to_stdout_leaves_images_out_unless_images_dir(db, tmp_path, monkeypatch):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    run(write(data, {**GOOD, "images": ["a.png"]}))
    rumor = Rumor.objects.get()
    monkeypatch.chdir(tmp_path)
    stdout, _ = export()
    assert "images" not in json.loads(stdout)
    assert not any(tmp_path.glob("*_images"))

    stdout, _ = export("--images-dir", "exported")
    record = json.loads(stdout)
    assert record["images"] == [f"exported/{rumor.pk}/1.png"]
    assert (tmp_path / record["images"][0]).read_bytes() == rumor.attachments.get().file.read()
    # importing that output from standard input in the same directory finds the images (already there: none added)
    events = AuditEvent.objects.count()
    out, _ = run("-", stdin=stdout, monkeypatch=monkeypatch)
    assert "1 updated" in out and AuditEvent.objects.count() == events


def test_images_dir_outside_the_output_directory_is_refused(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(CommandError, match="--images-dir"):
        export("-o", "out/x.jsonl", "--images-dir", str(tmp_path / "elsewhere"))
    with pytest.raises(CommandError, match="--images-dir"):
        export("--images-dir", "../elsewhere")
    assert not (tmp_path / "out" / "x.jsonl").exists()
    # inside is fine, and then paths are relative to the output file's directory
    run(write(tmp_path / "data", {**GOOD, "images": []}))
    export("-o", "out/x.jsonl", "--images-dir", "out/pics")
    assert "images" not in json.loads((tmp_path / "out" / "x.jsonl").read_text(encoding="utf-8"))


def test_export_help_says_where_images_go():
    text = ExportCommand().create_parser("manage.py", "export_rumors").format_help()
    assert "--images-dir" in text and "standard output" in text and "_images" in text


def test_unreadable_stored_image_is_left_out_with_a_warning(db, tmp_path, media):
    data = tmp_path / "data"
    put(data / "a.png", picture())
    put(data / "b.png", picture(colour=(0, 200, 0)))
    run(write(data, {**GOOD, "images": ["a.png", "b.png"]}))
    first = Attachment.objects.order_by("pk").first()
    first.file.storage.delete(first.file.name)
    out_file = tmp_path / "out.jsonl"
    _, err = export("-o", str(out_file))
    record = json.loads(out_file.read_text(encoding="utf-8"))
    assert record["images"] == [f"out_images/{first.rumor_id}/2.png"]
    assert first.file.name in err
