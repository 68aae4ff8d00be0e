"""Writes to the classification standard from the admin: categories and verdict labels, each validated, audited
(debunk.core.audit) and kept in their history tables, one transaction each.

A category or verdict label that rumors (or sanction rules) use cannot be deleted: the rows refer to it (PROTECT),
so the refusal is a clear ValidationError rather than a database error."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, audited_delete, diff, snapshot
from debunk.core.roles import require_perm
from labels.models import Category, VerdictLabel
from labels.selectors import category_subtree_ids


def _in_use(counts: dict[str, int], what: str) -> None:
    found = {name: n for name, n in counts.items() if n}
    if found:
        listed = ", ".join(f"{name}: {n}" for name, n in found.items())
        raise ValidationError(
            _("This %(what)s is in use (%(listed)s): it cannot be deleted.") % {"what": what, "listed": listed},
            code="protected",
        )


# --- categories ------------------------------------------------------------------------------------------------


def category_parent_check(*, category: Category, parent: Category | None) -> None:
    """Refuse a parent that would make the tree loop: the category itself or one of its sub-categories."""
    if parent is not None and category.pk is not None and parent.pk in category_subtree_ids(category):
        raise ValidationError(
            {"parent": _("A category cannot be placed under itself or one of its sub-categories.")}, code="cycle"
        )


def category_save(*, category: Category, by: Any) -> Category:
    """Add or change a category; the audit event holds the fields that changed."""
    creating = category.pk is None
    require_perm(by, "labels.add_category" if creating else "labels.change_category")
    before = {} if creating else snapshot(Category.objects.get(pk=category.pk))
    category.name_zh, category.name_en = (category.name_zh or "").strip(), (category.name_en or "").strip()
    with transaction.atomic():
        category_parent_check(category=category, parent=category.parent)
        category.full_clean()
        changes = diff(before, snapshot(category))
        if not (creating or changes):
            return category
        category._history_user = by
        category.save()
        audit_record(
            actor=by, action="category.create" if creating else "category.update", target=category, changes=changes
        )
    return category


def category_check_deletable(category: Category) -> None:
    from debunk.stock.models import Rumor

    _in_use(
        {
            str(Rumor._meta.verbose_name_plural): Rumor.objects.filter(category=category).count(),
            _("sub-categories"): category.children.count(),
        },
        str(Category._meta.verbose_name),
    )


def category_delete(*, category: Category, by: Any) -> None:
    """Delete a category no rumor and no sub-category uses."""
    audited_delete(
        category, by=by, perm="labels.delete_category", action="category.delete", check=category_check_deletable
    )


# --- verdict labels --------------------------------------------------------------------------------------------


THRESHOLD_PAIRS = (  # (auto field, review field): text similarity, containment of the text read in an image, and the
    # claim tier's score (its auto threshold may be empty: the claim tier then only suggests)
    ("match_auto_threshold", "match_review_threshold"),
    ("ocr_auto_containment", "ocr_review_containment"),
    ("claim_auto_threshold", "claim_review_threshold"),
)


def verdict_thresholds_check(**values: float | None) -> None:
    """Every threshold given (by field name) is between 0 and 1, each review one at most its auto one (when the auto
    one is set)."""
    errors: dict[str, str] = {}
    for auto_field, review_field in THRESHOLD_PAIRS:
        auto, review = values.get(auto_field), values.get(review_field)
        for field, value in ((auto_field, auto), (review_field, review)):
            if value is not None and not 0 <= value <= 1:
                errors[field] = _("A similarity between 0 and 1.")
        checked = auto_field not in errors and review_field not in errors
        if checked and auto is not None and review is not None and review > auto:
            errors[review_field] = _("The review threshold cannot be above the auto-match threshold.")
    if errors:
        raise ValidationError(errors, code="thresholds")


def verdict_thresholds(verdict: VerdictLabel) -> dict[str, float]:
    return {field: getattr(verdict, field) for pair in THRESHOLD_PAIRS for field in pair}


def verdict_save(*, verdict: VerdictLabel, by: Any) -> VerdictLabel:
    """Add or change a verdict label. A new code is re-indexed for search (its documents hold the code); the match
    answers pick the other fields up within seconds (debunk.matching.services' card cache)."""
    creating = verdict.pk is None
    require_perm(by, "labels.add_verdictlabel" if creating else "labels.change_verdictlabel")
    before = {} if creating else snapshot(VerdictLabel.objects.get(pk=verdict.pk))
    verdict.text_zh, verdict.text_en = (verdict.text_zh or "").strip(), (verdict.text_en or "").strip()
    with transaction.atomic():
        verdict_thresholds_check(**verdict_thresholds(verdict))
        verdict.full_clean()
        changes = diff(before, snapshot(verdict))
        if not (creating or changes):
            return verdict
        verdict._history_user = by
        verdict.save()
        audit_record(
            actor=by, action="verdict.create" if creating else "verdict.update", target=verdict, changes=changes
        )
        if "code" in changes and not creating:
            _reindex_rumors_of(verdict)
    return verdict


CLAIM_THRESHOLDS = ("claim_auto_threshold", "claim_review_threshold")


def verdict_calibrate(
    *, verdict: VerdictLabel, by: Any, thresholds: dict[str, float | None], calibration: dict[str, dict[str, Any]]
) -> VerdictLabel:
    """Set a label's claim-tier thresholds measured by a calibration (`calibrate_thresholds --apply`), recording
    where each came from in `calibration` (merged per field into what is there) and an audit event
    "verdict.calibrate". Only the claim thresholds can be set this way; each is between 0 and 1 (the auto one may
    be None: the tier only suggests), the review one at most the auto one."""
    require_perm(by, "labels.change_verdictlabel")
    unknown = sorted(set(thresholds) - set(CLAIM_THRESHOLDS))
    if unknown:
        raise ValidationError({name: _("Not a threshold a calibration sets.") for name in unknown})
    if thresholds.get("claim_review_threshold", 0.0) is None:
        raise ValidationError({"claim_review_threshold": _("A similarity between 0 and 1.")}, code="thresholds")
    verdict_thresholds_check(**{name: thresholds.get(name, getattr(verdict, name)) for name in CLAIM_THRESHOLDS})
    with transaction.atomic():
        locked = VerdictLabel.objects.select_for_update().get(pk=verdict.pk)
        before = snapshot(locked)
        for name, value in thresholds.items():
            setattr(locked, name, value)
        locked.calibration = {**(locked.calibration or {}), **calibration}
        locked.full_clean()
        locked._history_user = by
        locked.save()
        audit_record(actor=by, action="verdict.calibrate", target=locked, changes=diff(before, snapshot(locked)))
    return locked


def _reindex_rumors_of(verdict: VerdictLabel) -> None:
    from debunk.stock.models import Rumor
    from search.services import rumor_search_schedule

    for rumor in Rumor.objects.filter(verdict=verdict, status=Rumor.Status.PUBLISHED).only("pk"):
        rumor_search_schedule(rumor)


def verdict_check_deletable(verdict: VerdictLabel) -> None:
    from debunk.sanctions.models import SanctionRule
    from debunk.stock.models import Rumor

    _in_use(
        {
            str(Rumor._meta.verbose_name_plural): Rumor.objects.filter(verdict=verdict).count(),
            str(SanctionRule._meta.verbose_name_plural): SanctionRule.objects.filter(verdict=verdict).count(),
        },
        str(VerdictLabel._meta.verbose_name),
    )


def verdict_delete(*, verdict: VerdictLabel, by: Any) -> None:
    """Delete a verdict label no rumor and no sanction rule uses."""
    audited_delete(
        verdict, by=by, perm="labels.delete_verdictlabel", action="verdict.delete", check=verdict_check_deletable
    )
