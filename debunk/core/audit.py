"""The audit trail: one AuditEvent per action, with the field-level changes it made."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from debunk.core.models import AuditEvent
from debunk.core.roles import require_perm

M = TypeVar("M", bound=models.Model)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The editable field values of a record, as JSON-ready values, for diffing."""
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key:
            continue
        value = field.value_from_object(obj)
        if field.is_relation:
            values[field.name] = value
        elif hasattr(value, "isoformat"):
            values[field.name] = value.isoformat()
        elif isinstance(value, str | int | float | bool | type(None) | list | dict):
            values[field.name] = value
        else:
            values[field.name] = str(value)
    return values


def diff(before: dict[str, Any], after: dict[str, Any], ignore: tuple[str, ...] = ("updated_at",)) -> dict[str, list]:
    return {
        key: [before.get(key), value] for key, value in after.items() if key not in ignore and before.get(key) != value
    }


def removal(obj: models.Model) -> dict[str, list]:
    """The changes of a deleted record: every value it held, going to None."""
    return {key: [value, None] for key, value in snapshot(obj).items() if value not in (None, "")}


def audit_record(
    *, actor: Any, action: str, target: models.Model, changes: dict | None = None, reason: str = ""
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=True),
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        changes=changes or {},
        reason=reason,
    )


def audited_update(instance: M, *, by: Any, perm: str, action: str, **values: Any) -> M:
    """Set `values` on a record and save it, validated, with one audit event of what changed (none if nothing did)."""
    require_perm(by, perm)
    before = snapshot(type(instance)._default_manager.get(pk=instance.pk))
    for name, value in values.items():
        setattr(instance, name, value)
    changes = diff(before, snapshot(instance))
    if changes:
        with transaction.atomic():
            instance.full_clean()
            instance.save()
            audit_record(actor=by, action=action, target=instance, changes=changes)
    return instance


def audited_delete(
    instance: models.Model, *, by: Any, perm: str, action: str, check: Callable[[Any], None] | None = None
) -> None:
    """Delete a record with one audit event of what it held. `check(instance)` (raising ValidationError when the
    record must stay) runs first, with the row locked, so that nothing can start using it meanwhile."""
    require_perm(by, perm)
    with transaction.atomic():
        if check is not None:
            type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
            check(instance)
        audit_record(actor=by, action=action, target=instance, changes=removal(instance))
        instance._history_user = by  # simple-history names who deleted it, where the model keeps history
        instance.delete()
