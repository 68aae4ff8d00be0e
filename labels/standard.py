"""Import and export of the classification standard as JSON.

`standard_import` is the `labels_import` command's service: it acts as `by` (the command: the operator user),
needs the permissions to add and change categories and verdict labels, and writes every record it creates or changes
through labels.services (category_save, verdict_save): validated, with one audit event per record written
(category.create / category.update / verdict.create / verdict.update, holding what changed) and the history user.
Per record rather than one summary event, so that each label's own audit trail shows the import that set it.

`standard_seed` is the plain path for the data migration that seeds the standard (historical models: no services,
no audit events, no actor yet) and for tests re-seeding a flushed database. Both are all or nothing.
`standard_export` serves the `labels_export` command and the admin's export action.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from debunk.core.audit import diff, snapshot

SEED_FILE = Path(__file__).resolve().parent / "seed" / "standard.json"
CATEGORY_FIELDS = ["code", "name_zh", "name_en", "tier", "review_deadline_hours", "position"]
VERDICT_FIELDS = [
    "code",
    "text_zh",
    "text_en",
    "colour",
    "severity_rank",
    "claimreview_rating",
    "claimreview_value",
    "default_action",
]
IMPORT_PERMS = [
    "labels.add_category",
    "labels.change_category",
    "labels.add_verdictlabel",
    "labels.change_verdictlabel",
]


def load_seed() -> dict[str, Any]:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


def standard_export(category_model: Any = None, verdict_model: Any = None) -> dict[str, Any]:
    """The whole standard as a JSON-ready dict, parents before children."""
    if category_model is None or verdict_model is None:
        from labels.models import Category, VerdictLabel

        category_model, verdict_model = Category, VerdictLabel
    categories = list(category_model.objects.select_related("parent").order_by("position", "code"))
    by_code = {c.code: c for c in categories}
    ordered, done = [], set()

    def visit(cat: Any) -> None:
        if cat.code in done:
            return
        if cat.parent_id and cat.parent.code in by_code:
            visit(by_code[cat.parent.code])
        done.add(cat.code)
        ordered.append(cat)

    for cat in categories:
        visit(cat)
    return {
        "version": 1,
        "categories": [
            {**{f: getattr(c, f) for f in CATEGORY_FIELDS}, "parent": c.parent.code if c.parent_id else None}
            for c in ordered
        ],
        "verdicts": [{f: getattr(v, f) for f in VERDICT_FIELDS} for v in verdict_model.objects.order_by("code")],
    }


def _require_list(data: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list):
        raise ValidationError(f"'{key}' must be a list of objects.")
    items = data.get(key, [])
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise ValidationError(f"{key}[{i}]: each entry must be an object with a string 'code'.")
    return items


def standard_import(*, data: Any, by: Any) -> dict[str, int]:
    """Create or update categories and verdict labels by code, as `by`, all or nothing; returns how many were
    created, updated and left unchanged. Raises PermissionDenied, or ValidationError naming the entry at fault
    (nothing is written then)."""
    from debunk.core.roles import require_perm
    from labels import services
    from labels.models import Category, VerdictLabel

    for perm in IMPORT_PERMS:
        require_perm(by, perm)

    def save(obj: Any) -> None:
        if isinstance(obj, Category):
            services.category_save(category=obj, by=by)
        else:
            services.verdict_save(verdict=obj, by=by)

    return _write(data, Category, VerdictLabel, save)


def standard_seed(data: Any, category_model: Any, verdict_model: Any) -> dict[str, int]:
    """The plain path, for data migrations (with their historical models) and re-seeding tests: the same checks
    of the file, records saved directly, no audit events."""

    def save(obj: Any) -> None:
        obj.full_clean(validate_unique=False)
        obj.save()

    return _write(data, category_model, verdict_model, save)


def _write(data: Any, category_model: Any, verdict_model: Any, save: Callable[[Any], None]) -> dict[str, int]:
    categories = _require_list(data, "categories")
    verdicts = _require_list(data, "verdicts")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        pending = list(categories)
        while pending:
            progressed = []
            for item in pending:
                parent_code = item.get("parent")
                parent = None
                if parent_code:
                    parent = category_model.objects.filter(code=parent_code).first()
                    if parent is None:
                        continue
                _upsert(category_model, item, CATEGORY_FIELDS, {"parent": parent}, counts, "category", save)
                progressed.append(item)
            if not progressed:
                missing = sorted({str(i.get("parent")) for i in pending})
                raise ValidationError(f"category: unknown or circular parent code(s): {', '.join(missing)}")
            pending = [i for i in pending if i not in progressed]
        for item in verdicts:
            _upsert(verdict_model, item, VERDICT_FIELDS, {}, counts, "verdict", save)
    return counts


def _upsert(
    model: Any, item: dict, fields: list[str], extra: dict, counts: dict, kind: str, save: Callable[[Any], None]
) -> None:
    obj = model.objects.filter(code=item["code"]).first()
    created = obj is None
    if created:
        obj = model()
    before = {} if created else snapshot(obj)
    for field in fields:
        if field in item:
            setattr(obj, field, item[field])
    for field, value in extra.items():
        setattr(obj, field, value)
    try:
        save(obj)
    except ValidationError as exc:
        raise ValidationError(f"{kind} {item['code']!r}: {_flatten(exc)}") from exc
    if created:
        counts["created"] += 1
    else:
        counts["updated" if diff(before, snapshot(obj)) else "unchanged"] += 1


def _flatten(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in exc.message_dict.items())
    return " ".join(str(m) for m in exc.messages)
