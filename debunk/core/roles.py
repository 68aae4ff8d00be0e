"""The roles, kept as groups whose permissions are synced after every migrate, and the one permission
check every service makes."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext as _

FACT_CHECKER = "fact-checker"
REVIEWER = "reviewer"
ADMINISTRATOR = "administrator"
VERIFIER = "verifier"  # a department or an expert: sees and answers only the verification requests addressed to it

_STOCK_MODELS = ["rumor", "rumorvariant", "rumorsource", "debunk", "debunksource", "attachment"]
_FACT_CHECKER = (
    [("debunk", f"{verb}_{model}") for model in _STOCK_MODELS for verb in ("view", "add", "change")]
    + [("debunk", f"delete_{model}") for model in ["rumorvariant", "rumorsource", "debunksource", "attachment"]]
    + [("debunk", "submit_rumor"), ("debunk", "view_auditevent"), ("debunk", "view_platform")]
    + [("debunk", f"view_{model}") for model in ["match", "post", "allowlistentry", "correction", "exposure"]]
    + [("labels", "view_category"), ("labels", "view_verdictlabel")]
    + [("debunk", f"view_{model}") for model in ["sanction", "sanctionrule", "organization", "organizationmember"]]
    + [("debunk", "recommend_sanction"), ("debunk", "view_report")]
    + [("debunk", f"view_{model}") for model in ["leadcluster", "rumorreport", "reportcontent", "reportimage"]]
    + [("debunk", "triage_lead")]
    + [("debunk", "view_alert")]
    + [("debunk", "view_interceptioncount")]  # the dashboard's panels
)
_MCN_EDIT = [
    ("debunk", f"{verb}_{model}") for model in ["organization", "organizationmember"] for verb in ("add", "change")
]
_REVIEWER = (
    _FACT_CHECKER
    + _MCN_EDIT
    + [
        ("debunk", "review_rumor"),
        ("debunk", "delete_debunk"),
        ("debunk", "delete_allowlistentry"),
        ("debunk", "delete_organizationmember"),
        ("debunk", "apply_sanction"),
        ("debunk", "view_bannedidentity"),
        ("debunk", "view_sanctionnotice"),
        ("debunk", "view_matchjob"),
        ("debunk", "hand_over"),
        ("debunk", "request_verification"),
    ]
    + [("debunk", "request_verification"), ("debunk", "view_verificationrequest")]
    + [("debunk", "hand_over"), ("debunk", "view_handover")]
    + [("debunk", "acknowledge_alert"), ("debunk", "view_alertnotice")]
)
_ADMINISTRATOR = (
    _REVIEWER
    + [("labels", f"{verb}_{model}") for model in ["category", "verdictlabel"] for verb in ("add", "change", "delete")]
    + [("debunk", f"{verb}_platform") for verb in ("add", "change", "delete")]
    + [("debunk", f"{verb}_apikey") for verb in ("view", "add", "change")]
    + [("debunk", "view_apirequestlog")]
    + [("debunk", f"{verb}_webhookendpoint") for verb in ("view", "add", "change")]
    + [("debunk", f"{verb}_webhookdelivery") for verb in ("view", "change")]
    + [("debunk", f"{verb}_sanctionrule") for verb in ("add", "change", "delete")]
    + [("debunk", "export_ledger"), ("debunk", "add_report")]
    + [("debunk", "view_reportnotice"), ("debunk", "view_reportermessage")]
    + [("auth", f"{verb}_{model}") for model in ["user", "group"] for verb in ("view", "add", "change", "delete")]
    + [("debunk", f"{verb}_alertsubscription") for verb in ("view", "add", "change", "delete")]
)
_VERIFIER = [("debunk", "view_verificationrequest"), ("debunk", "answer_verification")]
ROLE_PERMISSIONS = {
    FACT_CHECKER: _FACT_CHECKER,
    REVIEWER: _REVIEWER,
    ADMINISTRATOR: _ADMINISTRATOR,
    VERIFIER: _VERIFIER,
}


def roles_sync() -> None:
    """Create the role groups and set exactly their permissions (idempotent)."""
    for name, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        query = Q(pk__in=[])
        for app_label, codename in perms:
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))


def system_user(username: str, role: str) -> "object":
    """A staff account that cannot log in, for actions the software takes (imports, expiry)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username, defaults={"is_active": True})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if not user.groups.filter(name=role).exists():
        roles_sync()
        user.groups.add(Group.objects.get(name=role))
    return user


def operator_user() -> Any:
    """The actor of an operator's management command run on the server (API keys, webhook endpoints)."""
    return system_user("system-operator", ADMINISTRATOR)


def require_perm(by: Any, perm: str) -> None:
    """Refuse unless the actor holds `perm`. `by=None` is never allowed: when the software acts (commands,
    tasks, imports), it acts as an explicit `system_user(...)`, so every audit event names who did it."""
    if by is None or not by.has_perm(perm):
        raise PermissionDenied(_("You do not have permission to do this."))
