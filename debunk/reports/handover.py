"""Hand-over of clues to departments (线索移交): leads and rumors packed into a signed package, with a record of to
whom, when, by whom, its status and follow-up.

The package (`debunk.reports.package`) holds `items.json` (the leads with their contents and reports, and the
rumors with their claim, labels, debunks and sources), the evidence files (`evidence/<sha256>.<ext>`: screenshots
of reported contents, rumors' attachments) and `manifest.json`, the list of every file's size and SHA-256 signed with
the server's key, like receipts (`receipts.signing_key`). It verifies offline with
`python -m debunk.reports.package PACKAGE.zip --public-key …` or `manage.py verify_handover PACKAGE.zip`.

What it never holds of a reporter: contact e-mails, pseudonym hashes, the platform's report ids; a report is its id,
time, source, platform and reach.
"""

import io
import json
import mimetypes
import secrets
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, audited_update
from debunk.core.roles import require_perm
from debunk.reports import package as packages
from debunk.reports import signing
from debunk.reports.models import Handover, LeadCluster, ReportContent
from debunk.reports.receipts import signing_key
from debunk.stock.models import Rumor

HAND_OVER = "debunk.hand_over"
ITEMS_VERSION = 1


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _ext(name: str, content_type: str = "") -> str:
    suffix = PurePosixPath(name or "").suffix.lstrip(".")
    if not suffix and content_type:
        suffix = (mimetypes.guess_extension(content_type) or "").lstrip(".")
    return suffix


class _Evidence:
    """The evidence files of a package, each once (by its SHA-256), read from storage."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def add(self, field: Any, content_type: str = "") -> dict[str, Any]:
        with field.open("rb") as handle:
            data = handle.read()
        path = packages.evidence_path(data, _ext(field.name, content_type))
        self.files.setdefault(path, data)
        return {"path": path, "sha256": path.split("/")[1].split(".")[0], "size": len(data)}


def _category(category: Any) -> dict[str, str]:
    return {"code": category.code, "name_zh": category.name_zh, "name_en": category.name_en}


def _lead(cluster: LeadCluster, evidence: _Evidence) -> dict[str, Any]:
    contents = (
        ReportContent.objects.filter(cluster=cluster)
        .prefetch_related("images", "reports__platform")
        .order_by("first_reported_at", "id")
    )
    return {
        "id": cluster.pk,
        "status": cluster.status,
        "category": _category(cluster.category),
        "text": cluster.text,
        "involves_minor": cluster.involves_minor,
        "report_count": cluster.report_count,
        "content_count": cluster.content_count,
        "reposts": cluster.reposts,
        "views": cluster.views,
        "first_reported_at": _iso(cluster.first_reported_at),
        "last_reported_at": _iso(cluster.last_reported_at),
        "deadline_at": _iso(cluster.deadline_at),
        "rumor_id": cluster.rumor_id,
        "contents": [
            {
                "id": content.pk,
                "sha256": content.sha256,
                "text": content.text,
                "url": content.url,
                "report_count": content.report_count,
                "first_reported_at": _iso(content.first_reported_at),
                "last_reported_at": _iso(content.last_reported_at),
                "rumor_id": content.rumor_id,
                "screenshots": [
                    {**evidence.add(image.file, image.content_type), "content_type": image.content_type}
                    for image in content.images.all()
                ],
                # Never a contact address, a reporter's pseudonym or the platform's report id.
                "reports": [
                    {
                        "id": report.pk,
                        "received_at": _iso(report.received_at),
                        "source": report.source,
                        "platform": report.platform.code if report.platform_id else None,
                        "involves_minor": report.involves_minor,
                        "reposts": report.reposts,
                        "views": report.views,
                    }
                    for report in sorted(content.reports.all(), key=lambda r: (r.received_at, r.pk))
                ],
            }
            for content in contents
        ],
    }


def _rumor(rumor: Rumor, evidence: _Evidence) -> dict[str, Any]:
    verification = rumor.verification
    return {
        "id": rumor.pk,
        "claim": rumor.claim,
        "status": rumor.status,
        "category": _category(rumor.category),
        "verdict": {"code": rumor.verdict.code, "text_zh": rumor.verdict.text_zh, "text_en": rumor.verdict.text_en},
        "severity": rumor.severity,
        "first_seen_at": _iso(rumor.first_seen_at),
        "published_at": _iso(rumor.published_at),
        "verified_by": rumor.verified_by,
        "verification": (
            {
                "verifier": verification.verifier_name,
                "answer": verification.answer,
                "answer_text": verification.answer_text,
                "answered_at": _iso(verification.answered_at),
            }
            if verification is not None and verification.answered_at
            else None
        ),
        "variants": [variant.text for variant in rumor.variants.all()],
        "sources": [
            {"url": source.url, "title": source.title, "seen_at": _iso(source.seen_at)}
            for source in rumor.sources.all()
        ],
        "debunks": [
            {
                "title": debunk.title,
                "summary": debunk.summary,
                "body": debunk.body,
                "language": debunk.language,
                "published_at": _iso(debunk.published_at),
                "sources": [{"title": s.title, "url": s.url} for s in debunk.sources.all()],
            }
            for debunk in rumor.debunks.all()
        ],
        "evidence": [
            {
                **evidence.add(attachment.file, attachment.content_type),
                "role": attachment.role,
                "content_type": attachment.content_type,
                "original_name": attachment.original_name,
                "caption": attachment.caption,
            }
            for attachment in rumor.attachments.all()
        ],
    }


def handover_create(*, clusters: Any, rumors: Any, recipient: str, recipient_contact: str = "", by: Any) -> Handover:
    """Hand leads and rumors over to a department: the record, its signed package, an audit event; the hand-over
    is the first action on each lead that had none."""
    require_perm(by, HAND_OVER)
    clusters = list(
        LeadCluster.objects.filter(pk__in=[c.pk for c in clusters]).select_related("category").order_by("id")
    )
    rumors = list(
        Rumor.objects.filter(pk__in=[r.pk for r in rumors])
        .select_related("category", "verdict", "verification")
        .prefetch_related("variants", "sources", "debunks__sources", "attachments")
        .order_by("id")
    )
    recipient, recipient_contact = (recipient or "").strip(), (recipient_contact or "").strip()
    errors: dict[str, list[str]] = {}
    if not clusters and not rumors:
        errors["clusters"] = [_("Select at least one lead or rumor to hand over.")]
    if not recipient:
        errors["recipient"] = [_("Name the department.")]
    if errors:
        raise ValidationError(errors)
    handover = Handover(recipient=recipient, recipient_contact=recipient_contact, created_by=by)
    handover.full_clean(exclude=["package", "manifest"])
    with transaction.atomic():
        handover.save()
        handover.clusters.set(clusters)
        handover.rumors.set(rumors)
        evidence = _Evidence()
        statement = {
            "handover_id": handover.pk,
            "recipient": handover.recipient,
            "recipient_contact": handover.recipient_contact,
            "created_at": handover.created_at.isoformat(),
            "created_by": by.get_username(),
        }
        items = {
            **statement,
            "v": ITEMS_VERSION,
            "leads": [_lead(cluster, evidence) for cluster in clusters],
            "rumors": [_rumor(rumor, evidence) for rumor in rumors],
        }
        files = [(packages.ITEMS, json.dumps(items, ensure_ascii=False, indent=1).encode())]
        files += sorted(evidence.files.items())
        out = io.BytesIO()
        handover.manifest = packages.package_write(out, files, statement, signing_key())
        data = out.getvalue()
        handover.package_sha256 = signing.sha256_hex(data)
        handover.package.save(f"handover-{handover.pk}-{secrets.token_hex(16)}.zip", ContentFile(data), save=False)
        handover.save(update_fields=["manifest", "package_sha256", "package"])
        audit_record(
            actor=by,
            action="handover.create",
            target=handover,
            changes={
                "recipient": [None, handover.recipient],
                "recipient_contact": [None, handover.recipient_contact],
                "clusters": [None, [c.pk for c in clusters]],
                "rumors": [None, [r.pk for r in rumors]],
                "package_sha256": [None, handover.package_sha256],
                "files": [None, len(files)],
            },
        )
        from debunk.reports.triage import lead_first_action

        for cluster in clusters:
            lead_first_action(cluster, by)
    return handover


def handover_update(handover: Handover, *, status: str, follow_up: str, by: Any) -> Handover:
    """Record where a hand-over stands (sent, acknowledged, closed) and the department's follow-up."""
    require_perm(by, HAND_OVER)
    if status not in Handover.Status.values:
        raise ValidationError({"status": [_("Choose a status.")]})
    return audited_update(
        handover, by=by, perm=HAND_OVER, action="handover.update", status=status, follow_up=(follow_up or "").strip()
    )
