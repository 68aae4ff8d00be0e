"""Import and export of the classification standard as JSON.

The same functions seed the standard from a data migration (with historical models) and serve the
`labels_import` / `labels_export` commands and the admin (with the real models).
"""

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

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


def standard_import(data: Any, category_model: Any = None, verdict_model: Any = None) -> dict[str, int]:
    """Create or update categories and verdicts by code, all or nothing.

    Raises ValidationError naming the entry at fault; nothing is written then.
    """
    if category_model is None or verdict_model is None:
        from labels.models import Category, VerdictLabel

        category_model, verdict_model = Category, VerdictLabel
    categories = _require_list(data, "categories")
    verdicts = _require_list(data, "verdicts")
    counts = {"created": 0, "updated": 0}
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
                _upsert(category_model, item, CATEGORY_FIELDS, {"parent": parent}, counts, "category")
                progressed.append(item)
            if not progressed:
                missing = sorted({str(i.get("parent")) for i in pending})
                raise ValidationError(f"category: unknown or circular parent code(s): {', '.join(missing)}")
            pending = [i for i in pending if i not in progressed]
        for item in verdicts:
            _upsert(verdict_model, item, VERDICT_FIELDS, {}, counts, "verdict")
    return counts


def _upsert(model: Any, item: dict, fields: list[str], extra: dict, counts: dict, kind: str) -> None:
    obj = model.objects.filter(code=item["code"]).first()
    created = obj is None
    if created:
        obj = model()
    for field in fields:
        if field in item:
            setattr(obj, field, item[field])
    for field, value in extra.items():
        setattr(obj, field, value)
    try:
        obj.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise ValidationError(f"{kind} {item['code']!r}: {_flatten(exc)}") from exc
    obj.save()
    counts["created" if created else "updated"] += 1


def _flatten(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in exc.message_dict.items())
    return " ".join(str(m) for m in exc.messages)
