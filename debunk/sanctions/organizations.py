"""Marketing organisations (MCN) and their member accounts: created, edited and deleted through these functions,
each audited (the joint measures against them are debunk.sanctions.services.organization_sanction).

An organisation that a joint measure names is kept: its sanctions refer to it."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from debunk.api.models import Platform
from debunk.core.audit import audit_record, diff, removal, snapshot
from debunk.core.roles import require_perm
from debunk.sanctions.models import Organization, OrganizationMember

ORGANIZATION_FIELDS = ["name", "notes"]


def organization_save(*, organization: Organization, by: Any) -> Organization:
    """Add or change an organisation (name, notes); the audit event holds what changed."""
    creating = organization.pk is None
    require_perm(by, "debunk.add_organization" if creating else "debunk.change_organization")
    before = {} if creating else snapshot(Organization.objects.get(pk=organization.pk))
    organization.name = (organization.name or "").strip()
    with transaction.atomic():
        organization.full_clean()
        changes = diff(before, snapshot(organization), ignore=("created_at",))
        if not (creating or changes):
            return organization
        organization.save()
        audit_record(
            actor=by,
            action="organization.create" if creating else "organization.update",
            target=organization,
            changes=changes,
        )
    return organization


def organization_check_deletable(organization: Organization) -> None:
    """Refuse deleting an organisation that a joint measure names."""
    count = organization.sanctions.count()
    if count:
        raise ValidationError(
            _("%(n)d joint sanction(s) name this organisation: it is kept with them.") % {"n": count},
            code="organization_in_use",
        )


def organization_delete(*, organization: Organization, by: Any) -> None:
    """Delete an organisation and its member list (each member's removal audited)."""
    require_perm(by, "debunk.delete_organization")
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        organization_check_deletable(organization)
        for member in organization.members.order_by("pk"):
            _member_remove(member, by=by)
        audit_record(actor=by, action="organization.delete", target=organization, changes=removal(organization))
        organization.delete()


def _member_validated(member: OrganizationMember) -> OrganizationMember:
    member.author_hash = (member.author_hash or "").strip().lower()
    member.full_clean()
    return member


def member_add(*, organization: Organization, by: Any, platform: Platform, author_hash: str) -> OrganizationMember:
    """Record that the organisation runs an account (platform + author HMAC)."""
    require_perm(by, "debunk.add_organizationmember")
    member = OrganizationMember(organization=organization, platform=platform, author_hash=author_hash)
    with transaction.atomic():
        _member_validated(member).save()
        audit_record(
            actor=by,
            action="organization.member.add",
            target=member,
            changes={"organization": [None, organization.pk], **diff({}, snapshot(member))},
        )
    return member


def member_update(*, member: OrganizationMember, by: Any, platform: Platform, author_hash: str) -> OrganizationMember:
    require_perm(by, "debunk.change_organizationmember")
    before = snapshot(OrganizationMember.objects.get(pk=member.pk))
    member.platform, member.author_hash = platform, author_hash
    with transaction.atomic():
        changes = diff(before, snapshot(_member_validated(member)))
        if changes:
            member.save()
            audit_record(actor=by, action="organization.member.update", target=member, changes=changes)
    return member


def _member_remove(member: OrganizationMember, *, by: Any) -> None:
    audit_record(actor=by, action="organization.member.remove", target=member, changes=removal(member))
    member.delete()


def member_remove(*, member: OrganizationMember, by: Any) -> None:
    """The organisation no longer runs the account (its earlier joint sanctions stay)."""
    require_perm(by, "debunk.delete_organizationmember")
    with transaction.atomic():
        _member_remove(member, by=by)
