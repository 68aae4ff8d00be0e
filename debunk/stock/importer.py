"""Rumors in and out as JSON Lines, one rumor per line (format documented in README.md).

Import is two-phase: every line is validated first, then records are written, each rumor with its
variants, debunk, sources and images in one transaction, so nothing is ever half-imported.

Images are files named relative to the JSONL file's directory. They go through the same content checks as an
upload (`debunk.stock.attachments.check_upload`) while the lines are validated, so a record with a bad image
writes nothing. The checked result is kept for the write (up to `CHECKED_IMAGES_KEPT` bytes in all, so that a
large import does not hold every picture in memory); past that, the file is read again just before its record is
written, its SHA-256 compared with the one checked, and checked again. Files stored for a record whose
transaction then rolls back are deleted, so a failed import leaves no orphans.
"""

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PureWindowsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.attachments import IMAGE_FORMATS, CheckedUpload, attachment_add, check_upload
from debunk.stock.models import SUMMARY_MAX, Attachment, Debunk, Rumor
from labels.models import Category, VerdictLabel

KNOWN_KEYS = {
    "claim",
    "verdict",
    "category",
    "debunk_title",
    "debunk_body",
    "variants",
    "source_url",
    "external_id",
    "severity",
    "debunk_summary",
    "debunk_sources",
    "authority",
    "first_seen_at",
    "language",
    "images",
}
MAX_IMAGES = 20  # per record
CHECKED_IMAGES_KEPT = 256 * 1024 * 1024  # bytes of checked images (content + thumbnail) kept between the phases
_url = URLValidator(schemes=["http", "https"])
_IMAGE_EXTENSIONS = dict(IMAGE_FORMATS.values())  # content type -> extension


@dataclass
class ImageFile:
    """One entry of a record's "images": the path as written, the file it names, the SHA-256 of the bytes that
    passed the checks (so that what is stored is what was checked, and a re-import finds it already there) and the
    checked result while the memory budget allows."""

    given: str
    path: Path
    sha256: str
    checked: CheckedUpload | None = field(default=None, repr=False, compare=False)


@dataclass
class _KeptImages:
    """The budget of checked images kept from validation to the write."""

    room: int = field(default_factory=lambda: CHECKED_IMAGES_KEPT)

    def keep(self, checked: CheckedUpload) -> CheckedUpload | None:
        size = len(checked.content) + len(checked.thumbnail or b"")
        if size > self.room:
            return None
        self.room -= size
        return checked


@dataclass
class ImportRecord:
    line: int
    claim: str
    verdict: VerdictLabel
    category: Category
    external_id: str | None
    severity: int
    variants: list[str]
    source_url: str
    authority: str
    first_seen_at: datetime | None
    debunk: dict[str, Any] | None
    debunk_sources: list[dict[str, str]] = field(default_factory=list)
    images: list[ImageFile] = field(default_factory=list)


@dataclass
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    published: int = 0
    errors: list[LineError] = field(default_factory=list)


def summary_from_body(body: str) -> str:
    """A card summary from a Markdown body: plain text, cut at a sentence end within 120 characters."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", body)
    text = " ".join(re.sub(r"[*_#>`]", "", text).split())
    if len(text) <= SUMMARY_MAX:
        return text
    cut = text[: SUMMARY_MAX - 1]
    end = max(cut.rfind(mark) for mark in "。！？.!?")
    return cut[: end + 1] if end >= 40 else cut + "…"


def parse_lines(
    lines: Iterable[str],
    *,
    default_verdict: str | None = None,
    default_category: str = "other",
    require_debunk: bool = False,
    base_dir: Path | str | None = None,
) -> tuple[list[ImportRecord], list[LineError]]:
    """Validate every line; returns the good records and one error per bad line.

    `base_dir` is where the records' image paths start: the JSONL file's directory (the current directory when
    not given, as for standard input)."""
    base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
    kept = _KeptImages()
    verdicts = {v.code: v for v in VerdictLabel.objects.all()}
    categories = {c.code: c for c in Category.objects.all()}
    records: list[ImportRecord] = []
    errors: list[LineError] = []
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            record = _parse_record(
                number, data, verdicts, categories, default_verdict, default_category, require_debunk, base, kept
            )
        except ValidationError as exc:
            errors.append(LineError(number, "; ".join(exc.messages)))
            continue
        if record.external_id:
            if record.external_id in seen_ids:
                errors.append(
                    LineError(number, f"external_id {record.external_id!r} repeats line {seen_ids[record.external_id]}")
                )
                continue
            seen_ids[record.external_id] = number
        records.append(record)
    return records, errors


def _parse_record(
    number: int,
    data: Any,
    verdicts: dict,
    categories: dict,
    default_verdict: str | None,
    default_category: str,
    require_debunk: bool,
    base_dir: Path,
    kept: _KeptImages,
) -> ImportRecord:
    if not isinstance(data, dict):
        raise ValidationError("each line must be a JSON object")
    problems: list[str] = []

    def text(key: str, limit: int | None = None) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            problems.append(f"'{key}' must be a string")
            return ""
        value = value.strip()
        if limit and len(value) > limit:
            problems.append(f"'{key}' is longer than {limit} characters")
        return value

    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown)}")
    claim = text("claim")
    if not claim:
        problems.append("'claim' is required and cannot be empty")
    verdict_code = text("verdict") or default_verdict
    verdict = verdicts.get(verdict_code or "")
    if not verdict_code:
        problems.append("'verdict' is required (or give --verdict)")
    elif verdict is None:
        problems.append(f"unknown verdict {verdict_code!r} (known: {', '.join(sorted(verdicts))})")
    category_code = text("category") or default_category
    category = categories.get(category_code)
    if category is None:
        problems.append(f"unknown category {category_code!r}")
    external_id = text("external_id", 100) or None
    severity = data.get("severity", 3)
    if not isinstance(severity, int) or isinstance(severity, bool) or not 1 <= severity <= 5:
        problems.append("'severity' must be an integer from 1 to 5")
    variants = data.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
        problems.append("'variants' must be a list of strings")
        variants = []
    variants = [v.strip() for v in variants if v.strip() and v.strip() != claim]
    source_url = text("source_url", 1000)
    if source_url:
        try:
            _url(source_url)
        except ValidationError:
            problems.append(f"'source_url' is not an http(s) URL: {source_url!r}")
    first_seen_raw = text("first_seen_at")
    first_seen_at = parse_datetime(first_seen_raw) if first_seen_raw else None
    if first_seen_raw and first_seen_at is None:
        problems.append("'first_seen_at' must be an ISO 8601 date-time")
    debunk = None
    title, body = text("debunk_title", 200), text("debunk_body")
    if title or body:
        if not (title and body):
            problems.append("'debunk_title' and 'debunk_body' go together")
        summary = text("debunk_summary", SUMMARY_MAX) or summary_from_body(body)
        language = text("language") or "zh-hans"
        if language not in {"zh-hans", "en"}:
            problems.append("'language' must be zh-hans or en")
        debunk = {"title": title, "body": body, "summary": summary, "language": language}
    elif require_debunk:
        problems.append("publishing needs 'debunk_title' and 'debunk_body'")
    sources = data.get("debunk_sources", [])
    if not isinstance(sources, list) or not all(
        isinstance(s, dict) and isinstance(s.get("title"), str) and isinstance(s.get("url"), str) for s in sources
    ):
        problems.append("'debunk_sources' must be a list of {title, url}")
        sources = []
    for source in sources:
        try:
            _url(source["url"])
        except ValidationError:
            problems.append(f"debunk source URL is not an http(s) URL: {source['url']!r}")
    if sources and debunk is None:
        problems.append("'debunk_sources' need a debunk")
    authority = text("authority", 200)
    images = _parse_images(data.get("images"), base_dir, problems, kept)
    if problems:
        raise ValidationError(problems)
    return ImportRecord(
        number,
        claim,
        verdict,
        category,
        external_id,
        severity,
        variants,
        source_url,
        authority,
        first_seen_at,
        debunk,
        sources,
        images,
    )


def _parse_images(value: Any, base_dir: Path, problems: list[str], kept: _KeptImages) -> list[ImageFile]:
    """The record's image files, each checked as an upload is; the same bytes listed twice count once."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(_("'images' must be a list of file paths"))
        return []
    if len(value) > MAX_IMAGES:
        problems.append(
            _("'images' lists %(count)s files; a record may have at most %(max)s")
            % {"count": len(value), "max": MAX_IMAGES}
        )
        return []
    images: dict[str, ImageFile] = {}
    checks: dict[str, CheckedUpload] = {}
    for number, given in enumerate(value, start=1):
        try:
            path = _locate_image(given, base_dir)
            data = _read_image(path)
            checked = _check_image(data, path)
        except ValidationError as exc:
            problems.append(
                _("image %(number)s (%(path)s): %(reason)s")
                % {"number": number, "path": json.dumps(given, ensure_ascii=False), "reason": " ".join(exc.messages)}
            )
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 not in images:
            images[sha256], checks[sha256] = ImageFile(given, path, sha256), checked
    if not problems:  # a refused record keeps nothing
        for image in images.values():
            image.checked = kept.keep(checks[image.sha256])
    return list(images.values())


def _locate_image(given: str, base_dir: Path) -> Path:
    """The file a record's image path names: relative, inside the base directory once resolved (so neither `..`
    nor a symbolic link leads out of it), and a regular file."""
    if not given.strip():
        raise ValidationError(_("the path is empty"))
    if os.path.isabs(given) or PureWindowsPath(given).anchor:
        raise ValidationError(_("absolute paths are refused: give the path relative to the JSONL file's directory"))
    try:
        path = (base_dir / given).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise ValidationError(_("the file cannot be read")) from exc
    if not path.is_relative_to(base_dir):
        raise ValidationError(_("the path leads outside the JSONL file's directory"))
    if not path.exists():
        raise ValidationError(_("no such file"))
    if not path.is_file():
        raise ValidationError(_("not a regular file"))
    return path


def _read_image(path: Path) -> bytes:
    """The file's bytes, one byte past the upload limit at most (enough for the check to say it is too large)."""
    try:
        with path.open("rb") as stream:
            return stream.read(settings.UPLOAD_MAX_BYTES + 1)
    except OSError as exc:
        raise ValidationError(_("the file cannot be read")) from exc


def _check_image(data: bytes, path: Path) -> CheckedUpload:
    """The upload checks, then: a rumor's image must be an image (a PDF or a text file is evidence, not this)."""
    checked = check_upload(io.BytesIO(data), path.name)
    if checked.kind != Attachment.Kind.IMAGE:
        raise ValidationError(_("not an image: a rumor's images must be JPEG, PNG, GIF or WebP"))
    return checked


def import_records(
    records: Iterable[ImportRecord], *, by: Any, publish_by: Any | None = None, atomic: bool = True
) -> ImportSummary:
    """Write validated records. atomic=True: all or nothing; otherwise each rumor on its own."""
    summary = ImportSummary()
    if atomic:
        with _files_deleted_on_error() as stored, transaction.atomic():
            for record in records:
                try:
                    _import_one(record, by, publish_by, summary, stored)
                except ValidationError as exc:
                    raise ValidationError(str(LineError(record.line, "; ".join(exc.messages)))) from exc
        return summary
    for record in records:
        try:
            with _files_deleted_on_error() as stored, transaction.atomic():
                _import_one(record, by, publish_by, summary, stored)
        except ValidationError as exc:
            summary.errors.append(LineError(record.line, "; ".join(exc.messages)))
    return summary


@contextmanager
def _files_deleted_on_error() -> Iterator[list[FieldFile]]:
    """Attachment files are stored before their rows commit: when the transaction inside rolls back, the files
    stored under it are deleted (after the rollback, as this wraps the transaction)."""
    stored: list[FieldFile] = []
    try:
        yield stored
    except BaseException:
        for stored_file in stored:
            stored_file.storage.delete(stored_file.name)
        raise


def _import_one(
    record: ImportRecord, by: Any, publish_by: Any | None, summary: ImportSummary, stored: list[FieldFile]
) -> None:
    rumor = Rumor.objects.filter(external_id=record.external_id).first() if record.external_id else None
    images = _images_to_add(rumor, record)  # checked before anything of the record is written
    fields = {
        "category": record.category,
        "verdict": record.verdict,
        "severity": record.severity,
        "verified_by": record.authority,
        "first_seen_at": record.first_seen_at,
    }
    if rumor is None:
        rumor = rumor_services.rumor_create(by=by, claim=record.claim, external_id=record.external_id, **fields)
        summary.created += 1
    else:
        rumor = rumor_services.rumor_update(rumor=rumor, by=by, claim=record.claim, **fields)
        summary.updated += 1
    existing = set(rumor.variants.values_list("text", flat=True))
    for text in dict.fromkeys(record.variants):
        if text not in existing:
            rumor_services.variant_add(rumor=rumor, by=by, text=text)
    if record.source_url and not rumor.sources.filter(url=record.source_url).exists():
        rumor_services.source_add(rumor=rumor, by=by, url=record.source_url, seen_at=record.first_seen_at)
    for image, checked in images:
        attachment = attachment_add(  # fingerprints the image too
            rumor=rumor,
            by=by,
            upload=io.BytesIO(checked.content),
            name=image.path.name,
            role=Attachment.Role.RUMOR_IMAGE,
            checked=checked,
        )
        stored.extend(f for f in (attachment.file, attachment.thumbnail) if f)
    if record.debunk:
        _import_debunk(rumor, record, by)
    if publish_by is not None and rumor.status != Rumor.Status.PUBLISHED:
        if rumor.status == Rumor.Status.DRAFT:
            rumor_services.rumor_submit(rumor=rumor, by=by)
        rumor_services.rumor_publish(rumor=rumor, by=publish_by)
        summary.published += 1


def _images_to_add(rumor: Rumor | None, record: ImportRecord) -> list[tuple[ImageFile, CheckedUpload]]:
    """The record's images the rumor does not have yet, as checked (read and checked again if not kept). An image is
    already there when one of the rumor's images was stored from the same bytes or stored as these bytes (as
    `export_rumors` writes them), so importing a file twice, or re-importing an export, adds nothing."""
    have: set[str] = set()
    if rumor is not None:
        for hashes in rumor.attachments.filter(
            role=Attachment.Role.RUMOR_IMAGE, kind=Attachment.Kind.IMAGE
        ).values_list("sha256", "original_sha256"):
            have.update(hashes)
    images = []
    for image in record.images:
        if image.sha256 in have:
            continue
        try:
            checked = image.checked or _check_again(image)
        except ValidationError as exc:
            raise ValidationError(
                _("image %(path)s: %(reason)s")
                % {"path": json.dumps(image.given, ensure_ascii=False), "reason": " ".join(exc.messages)}
            ) from exc
        stored_sha256 = hashlib.sha256(checked.content).hexdigest()
        if stored_sha256 in have:
            continue
        have.update((image.sha256, stored_sha256))
        images.append((image, checked))
    return images


def _check_again(image: ImageFile) -> CheckedUpload:
    data = _read_image(image.path)
    if hashlib.sha256(data).hexdigest() != image.sha256:
        raise ValidationError(_("the file changed after it was checked"))
    return _check_image(data, image.path)


def _import_debunk(rumor: Rumor, record: ImportRecord, by: Any) -> None:
    data = record.debunk or {}
    debunk = rumor.debunks.filter(title=data["title"]).first() or Debunk(rumor=rumor)
    changed = debunk.pk is None or any(getattr(debunk, k) != v for k, v in data.items())
    for key, value in data.items():
        setattr(debunk, key, value)
    if changed:
        debunk_services.debunk_save(debunk=debunk, by=by)
    known = set(debunk.sources.values_list("url", flat=True))
    for source in record.debunk_sources:
        if source["url"] not in known:
            debunk_services.debunk_source_add(debunk=debunk, by=by, title=source["title"], url=source["url"])


@dataclass
class ImageExport:
    """Where `export_records` writes the rumors' images: `<directory>/<rumor id>/<n>.<ext>`, the stored bytes as
    they are; the records list them relative to `relative_to` (the JSONL file's directory), which must contain
    `directory`, since `import_rumors` reads nothing outside it. Images whose stored file is unreadable are left
    out and named in `unreadable`."""

    directory: Path
    relative_to: Path
    unreadable: list[str] = field(default_factory=list)
    written: int = 0

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()
        self.relative_to = Path(self.relative_to).resolve()
        if not self.directory.is_relative_to(self.relative_to):
            raise ValueError(f"{self.directory} is not inside {self.relative_to}")

    def write(self, rumor: Rumor) -> list[str]:
        paths = []
        images = [
            a
            for a in rumor.attachments.all()
            if a.role == Attachment.Role.RUMOR_IMAGE and a.kind == Attachment.Kind.IMAGE
        ]
        for number, attachment in enumerate(images, start=1):
            try:
                with attachment.file.open("rb") as stream:
                    data = stream.read()
            except (OSError, ValueError):  # a missing file; ValueError: an attachment without a file
                self.unreadable.append(f"rumor {rumor.pk}, attachment {attachment.pk} ({attachment.file.name})")
                continue
            extension = _IMAGE_EXTENSIONS.get(attachment.content_type) or Path(attachment.file.name).suffix[1:]
            target = self.directory / str(rumor.pk) / f"{number}.{extension or 'bin'}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.written += 1
            paths.append(target.relative_to(self.relative_to).as_posix())
        return paths


def export_records(rumors: Iterable[Rumor], *, images: ImageExport | None = None) -> Iterator[dict[str, Any]]:
    """One dict per rumor in the import format; the newest debunk is the one exported. With `images`, the rumor's
    images are written out and listed in "images" (prefetch "attachments")."""
    for rumor in rumors:
        record: dict[str, Any] = {
            "external_id": rumor.external_id,
            "claim": rumor.claim,
            "verdict": rumor.verdict.code,
            "category": rumor.category.code,
            "severity": rumor.severity,
            "variants": [v.text for v in rumor.variants.all()],
        }
        source = next(iter(rumor.sources.all()), None)
        if source:
            record["source_url"] = source.url
        if rumor.first_seen_at:
            record["first_seen_at"] = rumor.first_seen_at.isoformat()
        if rumor.verified_by:
            record["authority"] = rumor.verified_by
        debunk = max(rumor.debunks.all(), key=lambda d: d.pk, default=None)
        if debunk:
            record.update(
                debunk_title=debunk.title,
                debunk_body=debunk.body,
                debunk_summary=debunk.summary,
                language=debunk.language,
                debunk_sources=[{"title": s.title, "url": s.url} for s in debunk.sources.all()],
            )
        if images is not None:
            paths = images.write(rumor)
            if paths:
                record["images"] = paths
        yield record
