"""Administrators' writes to the sanction rules: validated, audited, one transaction each (the rules engine that
reads them is debunk.sanctions.services)."""

from typing import Any

from django.db import transaction

from debunk.core.audit import audit_record, audited_delete, diff, snapshot
from debunk.core.roles import require_perm
from debunk.sanctions.models import SanctionRule


def rule_save(*, rule: SanctionRule, by: Any) -> SanctionRule:
    """Add or change a rule; the audit event holds the fields that changed."""
    creating = rule.pk is None
    require_perm(by, "debunk.add_sanctionrule" if creating else "debunk.change_sanctionrule")
    before = {} if creating else snapshot(SanctionRule.objects.get(pk=rule.pk))
    with transaction.atomic():
        rule.full_clean()
        rule.save()
        changes = diff(before, snapshot(rule))
        if creating or changes:
            audit_record(
                actor=by,
                action="sanction.rule.add" if creating else "sanction.rule.change",
                target=rule,
                changes=changes,
            )
    return rule


def rule_delete(*, rule: SanctionRule, by: Any) -> None:
    audited_delete(rule, by=by, perm="debunk.delete_sanctionrule", action="sanction.rule.delete")
