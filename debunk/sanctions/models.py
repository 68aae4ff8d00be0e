"""Sanctions of rumor posters: rules that recommend a measure, the measures reviewers apply (four-eyes for the
heavy ones), appeals, marketing organisations (MCNs), banned identities, the platforms' notice outbox and the
public reports. Accounts are `platform + author_hash` (the keyed HMAC of Post); identities are HMACs under a
network-wide key the platforms share: raw phone numbers or ids never reach Debunk."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from debunk.webhooks.models import OutboxMessage

hex64_validator = RegexValidator(r"^[0-9a-f]{64}$", _("64 lower-case hexadecimal characters."))


class Measure(models.TextChoices):
    """The ladder, mildest first; `LADDER` gives each its step."""

    WARNING = "warning", _("warning")
    RESTRICTION = "restriction", _("posting restriction")
    PM_SUSPENSION = "pm_suspension", _("private-message suspension")
    CLOSURE = "closure", _("account closure")
    BLACKLIST = "blacklist", _("blacklist")
    REGISTRATION_BAN = "registration_ban", _("network-wide registration ban")


LADDER: list[str] = [m.value for m in Measure]
FOUR_EYES: frozenset[str] = frozenset({Measure.CLOSURE, Measure.BLACKLIST, Measure.REGISTRATION_BAN})
IDENTITY_MEASURES: frozenset[str] = frozenset({Measure.BLACKLIST, Measure.REGISTRATION_BAN})


class Tristate(models.TextChoices):
    ANY = "any", _("either")
    YES = "yes", _("yes")
    NO = "no", _("no")


class SanctionRule(models.Model):
    """One row of the rules engine: conditions (all set ones must hold) and an effect. Every matching `set`
    rule proposes its measure and the heaviest wins (the first in order among equals); then every matching
    `escalate` rule moves it up the ladder by its steps."""

    class Effect(models.TextChoices):
        SET = "set", _("recommend this measure")
        ESCALATE = "escalate", _("move up the ladder")

    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    # conditions (empty: not checked)
    min_severity = models.PositiveSmallIntegerField(
        _("minimum rumor severity"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    verdict = models.ForeignKey(
        "labels.VerdictLabel",
        verbose_name=_("verdict"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    max_category_tier = models.PositiveSmallIntegerField(
        _("category tier at most"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("1: only tier-1 categories."),
    )
    first_poster = models.CharField(_("first poster"), max_length=3, choices=Tristate.choices, default=Tristate.ANY)
    min_reach = models.PositiveIntegerField(_("reach at least (reposts)"), null=True, blank=True)
    max_reach = models.PositiveIntegerField(_("reach at most (reposts)"), null=True, blank=True)
    min_prior_offences = models.PositiveIntegerField(
        _("earlier sanctions at least"), null=True, blank=True, help_text=_("Applied sanctions of the same account.")
    )
    window_days = models.PositiveIntegerField(_("within days"), default=90)
    mcn_member = models.CharField(_("member of an MCN"), max_length=3, choices=Tristate.choices, default=Tristate.ANY)
    # effect
    effect = models.CharField(_("effect"), max_length=10, choices=Effect.choices, default=Effect.SET)
    measure = models.CharField(_("measure"), max_length=20, choices=Measure.choices, blank=True)
    days = models.PositiveIntegerField(_("days"), null=True, blank=True, help_text=_("Empty: not time-limited."))
    steps = models.PositiveSmallIntegerField(_("steps up"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("sanction rule")
        verbose_name_plural = _("sanction rules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.effect == self.Effect.SET and not self.measure:
            raise ValidationError({"measure": _("A rule that recommends a measure needs one.")})
        if self.min_reach is not None and self.max_reach is not None and self.min_reach > self.max_reach:
            raise ValidationError({"max_reach": _("The largest reach is below the smallest.")})


class Organization(models.Model):
    """A marketing organisation (MCN) and the accounts it runs."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation (MCN)")
        verbose_name_plural = _("organisations (MCN)")

    def __str__(self) -> str:
        return self.name


class OrganizationMember(models.Model):
    organization = models.ForeignKey(
        Organization, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="members"
    )
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.PROTECT)
    author_hash = models.CharField(_("account (HMAC)"), max_length=64, validators=[hex64_validator])

    class Meta:
        verbose_name = _("member account")
        verbose_name_plural = _("member accounts")
        constraints = [
            models.UniqueConstraint(fields=["organization", "platform", "author_hash"], name="mcn_member_unique")
        ]
        indexes = [models.Index(fields=["platform", "author_hash"], name="debunk_mcn_member_account")]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.author_hash[:12]}"


class Sanction(models.Model):
    """One measure against one account: recommended by the rules, applied by a reviewer (and approved by a
    second one for closure, blacklist and registration ban), then active until it expires or is lifted."""

    class Status(models.TextChoices):
        RECOMMENDED = "recommended", _("recommended")
        PENDING_APPROVAL = "pending_approval", _("awaiting a second reviewer")
        ACTIVE = "active", _("active")
        EXPIRED = "expired", _("expired")
        LIFTED = "lifted", _("lifted")
        OVERTURNED = "overturned", _("overturned on appeal")
        DISMISSED = "dismissed", _("recommendation dismissed")

    class Appeal(models.TextChoices):
        NONE = "", _("none")
        PENDING = "pending", _("pending")
        UPHELD = "upheld", _("upheld")
        OVERTURNED = "overturned", _("overturned")

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.PROTECT)
    author_hash = models.CharField(_("account (HMAC)"), max_length=64)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("joint measure of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sanctions",
    )
    measure = models.CharField(_("measure"), max_length=20, choices=Measure.choices)
    days = models.PositiveIntegerField(_("days"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RECOMMENDED, db_index=True
    )
    rule = models.ForeignKey(
        SanctionRule, verbose_name=_("rule"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recommended_measure = models.CharField(_("recommended measure"), max_length=20, choices=Measure.choices)
    inputs = models.JSONField(_("figures"), default=dict, help_text=_("What the rules saw."))
    matched_rules = models.JSONField(_("rules that matched"), default=list)
    reason = models.TextField(_("reason"), blank=True)
    typical_case = models.BooleanField(_("typical case"), default=False, help_text=_("Shown in public reports."))
    case_summary = models.TextField(_("public case summary"), blank=True, help_text=_("No account details."))
    recommended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recommended by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applied by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("effective from"), null=True, blank=True, db_index=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    appeal = models.CharField(_("appeal"), max_length=10, choices=Appeal.choices, default=Appeal.NONE, blank=True)
    appeal_text = models.TextField(_("appeal text"), blank=True)
    appealed_at = models.DateTimeField(_("appealed at"), null=True, blank=True)
    appeal_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("appeal decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    appeal_decided_at = models.DateTimeField(_("appeal decided at"), null=True, blank=True)
    appeal_reason = models.TextField(_("appeal decision reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")
        permissions = [
            ("recommend_sanction", _("Can ask the rules for a sanction recommendation")),
            ("apply_sanction", _("Can apply, approve and lift sanctions and decide appeals")),
        ]
        indexes = [models.Index(fields=["platform", "author_hash", "applied_at"], name="debunk_sanction_account")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_measure_display()} {self.author_hash[:8]}"


class BannedIdentity(models.Model):
    """An identity hash (HMAC of a phone number or id under the platforms' shared key) that a platform linked
    to a blacklist or registration-ban sanction of its account; it counts while the sanction is active."""

    identity_hash = models.CharField(_("identity (HMAC)"), max_length=64, validators=[hex64_validator])
    sanction = models.ForeignKey(
        Sanction, verbose_name=_("sanction"), on_delete=models.CASCADE, related_name="identities"
    )
    created_at = models.DateTimeField(_("linked at"), default=timezone.now)

    class Meta:
        verbose_name = _("banned identity")
        verbose_name_plural = _("banned identities")
        constraints = [models.UniqueConstraint(fields=["identity_hash", "sanction"], name="identity_once_per_sanction")]

    def __str__(self) -> str:
        return self.identity_hash[:12]


class SanctionNotice(OutboxMessage):
    """Outbox: one decision to push to the sanctioned account's platform by webhook, retried until delivered."""

    sanction = models.ForeignKey(Sanction, verbose_name=_("sanction"), on_delete=models.CASCADE, related_name="notices")
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta(OutboxMessage.Meta):
        verbose_name = _("sanction notice")
        verbose_name_plural = _("sanction notices")

    def __str__(self) -> str:
        return f"{self.event} {self.message_id}"


class Report(models.Model):
    """A published weekly or monthly report: rumors handled by category, sanctions by measure, typical cases."""

    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("weekly")
        MONTHLY = "monthly", _("monthly")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until (exclusive)"))
    data = models.JSONField(_("figures"), default=dict)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        ordering = ["-period_start", "kind"]
        verbose_name = _("public report")
        verbose_name_plural = _("public reports")
        permissions = [("export_ledger", _("Can export the work ledger (every audited action)"))]
        constraints = [models.UniqueConstraint(fields=["kind", "period_start"], name="report_once_per_period")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start:%Y-%m-%d}"
