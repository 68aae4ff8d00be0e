"""Platforms: created, edited, deactivated and (when nothing refers to them) deleted, each audited.

Deactivation is the usual end of a platform: its keys stop working, its webhooks stop, and its posts, matches,
sanctions and request log stay. A platform is deleted only when nothing refers to it (a mistaken entry)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from debunk.api.keys import platform_keys_forget
from debunk.api.models import Platform
from debunk.core.audit import audit_record, audited_delete, diff, snapshot
from debunk.core.roles import require_perm

PLATFORM_FIELDS = ["code", "name", "is_active"]


def platform_create(*, by: Any, code: str, name: str, is_active: bool = True) -> Platform:
    require_perm(by, "debunk.add_platform")
    platform = Platform(code=(code or "").strip(), name=(name or "").strip(), is_active=is_active)
    with transaction.atomic():
        platform.full_clean()
        platform.save()
        audit_record(actor=by, action="platform.create", target=platform, changes=diff({}, snapshot(platform)))
    return platform


def platform_update(*, platform: Platform, by: Any, **fields: Any) -> Platform:
    """Change a platform's code, name or active flag; the audit event holds what changed."""
    unknown = set(fields) - set(PLATFORM_FIELDS)
    if unknown:
        raise TypeError(f"unknown platform fields: {sorted(unknown)}")
    require_perm(by, "debunk.change_platform")
    with transaction.atomic():
        current = Platform.objects.select_for_update().get(pk=platform.pk)
        before = snapshot(current)
        for name, value in fields.items():
            setattr(platform, name, value.strip() if isinstance(value, str) else value)
        platform.full_clean()
        changes = diff(before, snapshot(platform))
        if not changes:
            return platform
        platform.save()
        action = "platform.update"
        if set(changes) == {"is_active"}:
            action = "platform.activate" if platform.is_active else "platform.deactivate"
        audit_record(actor=by, action=action, target=platform, changes=changes)
        transaction.on_commit(lambda: platform_keys_forget(platform))  # keys' lookups cache the platform
    return platform


def platform_set_active(*, platform: Platform, active: bool, by: Any) -> Platform:
    """Deactivate (or reactivate) a platform: its keys are refused and its webhooks stop while inactive."""
    return platform_update(platform=platform, by=by, is_active=active)


def platform_references(platform: Platform) -> dict[str, int]:
    """What refers to the platform, as {verbose name (plural): number of rows}, history tables left out."""
    found: dict[str, int] = {}
    for relation in Platform._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        model: type[models.Model] = relation.related_model
        if hasattr(model, "instance_type"):  # django-simple-history's copy of another model: not a reference
            continue
        count = model._base_manager.filter(**{relation.field.name: platform}).count()
        if count:
            name = str(model._meta.verbose_name_plural)
            found[name] = found.get(name, 0) + count
    return found


def platform_check_deletable(platform: Platform) -> None:
    """Refuse deleting a platform that anything refers to: deactivate it instead."""
    found = platform_references(platform)
    if found:
        listed = ", ".join(f"{name}: {count}" for name, count in sorted(found.items()))
        raise ValidationError(
            _("This platform is still referred to (%(listed)s): deactivate it instead.") % {"listed": listed},
            code="platform_in_use",
        )


def platform_delete(*, platform: Platform, by: Any) -> None:
    """Delete a platform entered by mistake (nothing refers to it)."""
    audited_delete(
        platform, by=by, perm="debunk.delete_platform", action="platform.delete", check=platform_check_deletable
    )
