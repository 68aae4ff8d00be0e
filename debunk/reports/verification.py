"""Verification requests: a reviewer asks a department or an expert to verify a claim, with a deadline; the answer,
and who gave it, becomes the rumor's verification on record (`Rumor.verification`).

- The verifier is an account with the narrow "verifier" role (it answers in the admin, where it sees only the
  requests addressed to it) or an e-mail address: that address gets a one-time answer link
  (`/verify-claim/<token>/`, no login). Only the SHA-256 of the token is stored; the token itself is drawn by the
  sending task, so it is never written to the database or the broker, and it is good for one answer.
- Every write is audited: `verification.request`, `verification.answer`, `verification.cancel`.
"""

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, diff, snapshot
from debunk.core.roles import require_perm
from debunk.reports.models import VerificationRequest
from debunk.stock.models import Rumor

REQUEST = "debunk.request_verification"
ANSWER = "debunk.answer_verification"
TOKEN_BYTES = 32

VR = VerificationRequest


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verification_request(
    rumor: Rumor,
    *,
    verifier: Any = None,
    verifier_email: str = "",
    verifier_name: str,
    question: str,
    due_at: datetime,
    by: Any,
) -> VerificationRequest:
    """Ask a verifier (an account with `answer_verification`, or an e-mail address) to verify the rumor's claim by
    `due_at`. An e-mail verifier is sent a one-time answer link once the request is committed."""
    require_perm(by, REQUEST)
    verifier_email = (verifier_email or "").strip()
    verifier_name = (verifier_name or "").strip()
    question = (question or "").strip()
    errors: dict[str, list[str]] = {}
    if (verifier is None) == (not verifier_email):
        errors["verifier"] = [_("Give either a verifier account or an e-mail address, not both.")]
    if verifier is not None and (not verifier.is_active or not verifier.has_perm(ANSWER)):
        errors["verifier"] = [_("This account cannot answer verification requests (it needs the verifier role).")]
    if verifier_email:
        try:
            validate_email(verifier_email)
        except ValidationError:
            errors["verifier_email"] = [_("Enter a valid e-mail address.")]
    if not verifier_name:
        errors["verifier_name"] = [_("Name the department or expert.")]
    if not question:
        errors["question"] = [_("Ask a question.")]
    if not isinstance(due_at, datetime) or timezone.is_naive(due_at):
        errors["due_at"] = [_("Give the deadline as a date and time.")]
    elif due_at <= timezone.now():
        errors["due_at"] = [_("The deadline must be in the future.")]
    if errors:
        raise ValidationError(errors)
    request = VR(
        rumor=rumor,
        verifier=verifier,
        verifier_email=verifier_email,
        verifier_name=verifier_name,
        question=question,
        due_at=due_at,
        requested_by=by,
    )
    request.full_clean()
    with transaction.atomic():
        request.save()
        audit_record(actor=by, action="verification.request", target=request, changes=diff({}, snapshot(request)))
        if verifier_email:
            from debunk.core.outbox import enqueue
            from debunk.reports.tasks import verification_link_send_task

            enqueue(verification_link_send_task, request.pk)
    _lead_first_actions(rumor, by)
    return request


def _lead_first_actions(rumor: Rumor, by: Any) -> None:
    """Asking for verification is an action on the leads linked to the rumor (time-to-first-action)."""
    from debunk.reports.triage import lead_first_action

    for cluster in rumor.lead_clusters.all():
        lead_first_action(cluster, by)


def verification_for_token(token: str) -> VerificationRequest | None:
    """The request whose answer link carries `token` (whatever its status), or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    request = VR.objects.select_related("rumor").filter(token_hash=token_hash(token)).first()
    if request is None or not hmac.compare_digest(request.token_hash, token_hash(token)):
        return None
    return request


def closed_message(request: VerificationRequest) -> str:
    """Why a request can no longer be answered ("" while it is open)."""
    if request.status == VR.Status.ANSWERED:
        return _("This verification request has already been answered; the link can be used only once.")
    if request.status == VR.Status.CANCELLED:
        return _("This verification request was cancelled; no answer is needed.")
    return ""


def verification_answer(
    request: VerificationRequest, *, answer: str, answer_text: str, by: Any = None, token: str | None = None
) -> VerificationRequest:
    """Record the answer of the addressed verifier (`by`, the account it was addressed to) or of the holder of the
    answer link (`token`), and make it the rumor's verification on record (unless the answer is that it cannot be
    determined: that is recorded on the request only)."""
    if (by is None) == (token is None):
        raise PermissionDenied(_("You do not have permission to do this."))
    if by is not None:
        require_perm(by, ANSWER)
        if request.verifier_id is None or request.verifier_id != by.pk:
            raise PermissionDenied(_("This verification request is not addressed to you."))
    elif not request.token_hash or not hmac.compare_digest(request.token_hash, token_hash(str(token))):
        raise PermissionDenied(_("This answer link is not valid."))
    errors: dict[str, list[str]] = {}
    if answer not in VR.Answer.values:
        errors["answer"] = [_("Choose an answer.")]
    answer_text = (answer_text or "").strip()
    if not answer_text:
        errors["answer_text"] = [_("Explain the answer.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = VR.objects.select_for_update().get(pk=request.pk)
        if locked.status != VR.Status.OPEN:
            raise ValidationError(closed_message(locked))
        before = snapshot(locked)
        locked.status = VR.Status.ANSWERED
        locked.answer, locked.answer_text = answer, answer_text
        locked.answered_by = by
        locked.answered_by_email = locked.verifier_email if by is None else (by.email or "")
        locked.answered_at = timezone.now()
        locked.save()
        changes = diff(before, snapshot(locked))
        if answer != VR.Answer.INCONCLUSIVE:  # "cannot be determined" is recorded, but verifies nothing
            rumor = Rumor.objects.select_for_update().get(pk=locked.rumor_id)
            rumor_before = {"verification": rumor.verification_id, "verified_by": rumor.verified_by}
            rumor.verification, rumor.verified_by = locked, locked.verifier_name[:200]
            rumor._history_user = by
            rumor.save(update_fields=["verification", "verified_by", "updated_at"])
            changes.update(
                {
                    f"rumor.{k}": [v, getattr(rumor, k if k != "verification" else "verification_id")]
                    for k, v in rumor_before.items()
                }
            )
        audit_record(actor=by, action="verification.answer", target=locked, changes=changes)
    request.refresh_from_db()
    return request


def verification_cancel(request: VerificationRequest, by: Any, reason: str) -> VerificationRequest:
    """Cancel an open request (its answer link stops working), with a reason."""
    require_perm(by, REQUEST)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give a reason.")]})
    with transaction.atomic():
        locked = VR.objects.select_for_update().get(pk=request.pk)
        if locked.status != VR.Status.OPEN:
            raise ValidationError(_("Only an open verification request can be cancelled."))
        locked.status = VR.Status.CANCELLED
        locked.save(update_fields=["status"])
        audit_record(
            actor=by,
            action="verification.cancel",
            target=locked,
            changes={"status": [VR.Status.OPEN, VR.Status.CANCELLED]},
            reason=reason,
        )
    request.refresh_from_db()
    return request


def answer_path(token: str) -> str:
    return reverse("verify-claim", args=[token])


def verification_link_send(*, request_id: int) -> str:
    """Draw the request's one-time token, mail the answer link through Django's mail backend and keep the token's
    hash, once: a request that already has a link, or is no longer open, is skipped. A failed send stores nothing
    (the next attempt draws another token)."""
    from debunk.public.cards import public_url

    with transaction.atomic():
        request = VR.objects.select_for_update().select_related("rumor").filter(pk=request_id).first()
        if request is None or request.status != VR.Status.OPEN or not request.verifier_email or request.token_hash:
            return "skipped"
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with translation.override("zh-hans"):
            link = public_url(answer_path(token))
            due = timezone.localtime(request.due_at).strftime("%Y-%m-%d %H:%M")
            subject = _("Verification request: please verify a claim by %(due)s") % {"due": due}
            body = "\n\n".join(
                [
                    _("Dear %(name)s,") % {"name": request.verifier_name},
                    _("Fact-checkers ask you to verify the following claim.") + "\n\n" + request.rumor.claim,
                    _("Question: %(question)s") % {"question": request.question},
                    _("Please answer by %(due)s through this one-time link (no account needed):") % {"due": due}
                    + "\n"
                    + link,
                ]
            )
        try:
            send_mail(subject, body, None, [request.verifier_email])
        except Exception:
            return "failed"
        request.token_hash = token_hash(token)
        request.save(update_fields=["token_hash"])
    return "sent"
