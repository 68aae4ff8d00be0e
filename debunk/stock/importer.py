"""Rumors in and out as JSON Lines, one rumor per line (format documented in README.md).

Import is two-phase: every line is validated first, then records are written, each rumor with its
variants, debunk and source in one transaction, so nothing is ever half-imported.
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.dateparse import parse_datetime

from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import SUMMARY_MAX, Debunk, Rumor
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
}
_url = URLValidator(schemes=["http", "https"])


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
) -> tuple[list[ImportRecord], list[LineError]]:
    """Validate every line; returns the good records and one error per bad line."""
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
                number, data, verdicts, categories, default_verdict, default_category, require_debunk
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
    )


def import_records(
    records: Iterable[ImportRecord], *, by: Any, publish_by: Any | None = None, atomic: bool = True
) -> ImportSummary:
    """Write validated records. atomic=True: all or nothing; otherwise each rumor on its own."""
    summary = ImportSummary()
    if atomic:
        with transaction.atomic():
            for record in records:
                try:
                    _import_one(record, by, publish_by, summary)
                except ValidationError as exc:
                    raise ValidationError(str(LineError(record.line, "; ".join(exc.messages)))) from exc
        return summary
    for record in records:
        try:
            with transaction.atomic():
                _import_one(record, by, publish_by, summary)
        except ValidationError as exc:
            summary.errors.append(LineError(record.line, "; ".join(exc.messages)))
    return summary


def _import_one(record: ImportRecord, by: Any, publish_by: Any | None, summary: ImportSummary) -> None:
    fields = {
        "category": record.category,
        "verdict": record.verdict,
        "severity": record.severity,
        "verified_by": record.authority,
        "first_seen_at": record.first_seen_at,
    }
    rumor = Rumor.objects.filter(external_id=record.external_id).first() if record.external_id else None
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
    if record.debunk:
        _import_debunk(rumor, record, by)
    if publish_by is not None and rumor.status != Rumor.Status.PUBLISHED:
        if rumor.status == Rumor.Status.DRAFT:
            rumor_services.rumor_submit(rumor=rumor, by=by)
        rumor_services.rumor_publish(rumor=rumor, by=publish_by)
        summary.published += 1


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


def export_records(rumors: Iterable[Rumor]) -> Iterator[dict[str, Any]]:
    """One dict per rumor in the import format; the newest debunk is the one exported."""
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
        yield record
