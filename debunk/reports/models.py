"""Reports and leads: what the public and the platforms report, folded by content and clustered by the matcher's
fingerprints into leads; the notices that tell reporters and platforms the outcome; verification requests to
departments and experts; hand-overs of clues to departments.

- `ReportContent`: one distinct content (text, link, screenshots), stored once byte for byte with its SHA-256,
  however many times it is reported (duplicate folding: `report_count`).
- `RumorReport`: one submission (a person on the public page, or a platform's forwarded report or own lead),
  with its signed receipt, its reporter's pseudonym or contact, reach figures and its outcome.
- `LeadCluster`: the contents about the same thing (same exact text, or near-duplicates by MinHash LSH band
  keys, `LeadKey`), the unit of the triage queue.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from debunk.webhooks.models import OutboxMessage


class LeadCluster(models.Model):
    """A lead: reports about the same content, triaged as one item."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        LINKED = "linked", _("linked to a rumor")
        DRAFTED = "drafted", _("draft rumor created")
        DISMISSED = "dismissed", _("dismissed")

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    category = models.ForeignKey(
        "labels.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="lead_clusters"
    )
    text = models.TextField(_("text"), blank=True, help_text=_("The first report's text."))
    rumor = models.ForeignKey(
        "debunk.Rumor",
        verbose_name=_("rumor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lead_clusters",
    )
    involves_minor = models.BooleanField(_("involves a minor"), default=False, db_index=True)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    content_count = models.PositiveIntegerField(_("distinct contents"), default=0)
    reposts = models.PositiveBigIntegerField(_("reposts"), default=0)
    views = models.PositiveBigIntegerField(_("views"), default=0)
    first_reported_at = models.DateTimeField(_("first reported at"), default=timezone.now)
    last_reported_at = models.DateTimeField(_("last reported at"), default=timezone.now)
    deadline_at = models.DateTimeField(_("deadline"), db_index=True)
    first_action_at = models.DateTimeField(_("first action at"), null=True, blank=True)
    first_action_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("first action by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-involves_minor", "deadline_at", "-report_count", "-views", "id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        permissions = [
            ("triage_lead", _("Can triage leads: link, draft a rumor, dismiss")),
            ("hand_over", _("Can hand clues over to departments")),
        ]
        indexes = [models.Index(fields=["status", "-involves_minor", "deadline_at"], name="lead_queue")]

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= 40 else text[:39] + "…"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.deadline_at < timezone.now()


class LeadKey(models.Model):
    """A fingerprint key of a lead (the exact hash of a normalised text, or an LSH band key of its MinHash):
    a new content joins the open lead that shares one (and is confirmed near enough by its signature)."""

    cluster = models.ForeignKey(LeadCluster, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="keys")
    key = models.BigIntegerField(_("key"))

    class Meta:
        verbose_name = _("lead key")
        verbose_name_plural = _("lead keys")
        constraints = [models.UniqueConstraint(fields=["key", "cluster"], name="lead_key_unique")]

    def __str__(self) -> str:
        return f"{self.cluster_id}:{self.key}"


class ReportContent(models.Model):
    """One distinct reported content, stored once (duplicate folding): its text, link and screenshots with the
    SHA-256 of the canonical whole."""

    sha256 = models.CharField(_("SHA-256 of the content"), max_length=64, unique=True)
    text = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link (as text)"), max_length=2000, blank=True, help_text=_("Never fetched."))
    cluster = models.ForeignKey(LeadCluster, verbose_name=_("lead"), on_delete=models.PROTECT, related_name="contents")
    signature = models.BinaryField(_("MinHash signature"), null=True, blank=True, editable=False)
    rumor = models.ForeignKey(
        "debunk.Rumor",
        verbose_name=_("matched rumor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The published rumor this content matched on arrival."),
    )
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    first_reported_at = models.DateTimeField(_("first reported at"), default=timezone.now)
    last_reported_at = models.DateTimeField(_("last reported at"), default=timezone.now)

    class Meta:
        ordering = ["-report_count", "id"]
        verbose_name = _("reported content")
        verbose_name_plural = _("reported contents")

    def __str__(self) -> str:
        text = " ".join((self.text or self.url).split())
        return text if len(text) <= 40 else text[:39] + "…"


class ReportImage(models.Model):
    """A screenshot of a reported content, byte for byte as submitted."""

    content = models.ForeignKey(
        ReportContent, verbose_name=_("content"), on_delete=models.CASCADE, related_name="images"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/")
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=50)

    class Meta:
        ordering = ["content", "position"]
        verbose_name = _("screenshot")
        verbose_name_plural = _("screenshots")
        constraints = [models.UniqueConstraint(fields=["content", "position"], name="report_image_position")]

    def __str__(self) -> str:
        return self.sha256[:12]


class RumorReport(models.Model):
    """One report as submitted: by a person on the public page, or forwarded by a platform (its user's report
    or its own monitoring lead). Its evidence (the content) is never altered or deleted while it is open."""

    class Source(models.TextChoices):
        PUBLIC = "public", _("public report page")
        PLATFORM = "platform", _("platform")

    class Outcome(models.TextChoices):
        PENDING = "pending", pgettext_lazy("report outcome", "pending")
        DEBUNKED = "debunked", _("a published debunk applies")
        DRAFTED = "drafted", _("a debunk is being prepared")
        DISMISSED = "dismissed", _("dismissed")

    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    platform = models.ForeignKey(
        "debunk.Platform",
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rumor_reports",
    )
    external_id = models.CharField(_("platform's id of the report"), max_length=128, blank=True)
    platform_post_id = models.CharField(_("platform's post id"), max_length=128, blank=True)
    where = models.CharField(_("where it was seen"), max_length=100, blank=True)
    category = models.ForeignKey(
        "labels.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="rumor_reports"
    )
    content = models.ForeignKey(
        ReportContent, verbose_name=_("content"), on_delete=models.PROTECT, related_name="reports"
    )
    involves_minor = models.BooleanField(_("involves a minor"), default=False)
    reporter_hash = models.CharField(_("reporter (keyed hash)"), max_length=64, blank=True)
    contact = models.EmailField(_("contact e-mail"), blank=True)
    language = models.CharField(_("reporter's language"), max_length=10, blank=True, help_text=_("For messages."))
    reposts = models.PositiveBigIntegerField(_("reposts"), null=True, blank=True)
    views = models.PositiveBigIntegerField(_("views"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    receipt = models.JSONField(_("signed receipt"), default=dict, editable=False)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_at = models.DateTimeField(_("outcome at"), null=True, blank=True)
    rumor = models.ForeignKey(
        "debunk.Rumor",
        verbose_name=_("rumor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        indexes = [models.Index(fields=["platform", "outcome_at", "id"], name="report_outcome_feed")]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"],
                condition=~models.Q(external_id=""),
                name="report_external_id_per_platform",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.content}"

    @property
    def is_open(self) -> bool:
        return self.outcome in (self.Outcome.PENDING, self.Outcome.DRAFTED)


class ReportNotice(OutboxMessage):
    """Outbox: the outcome of a platform's forwarded report, pushed to its webhook (also in its pull feed)."""

    report = models.ForeignKey(RumorReport, verbose_name=_("report"), on_delete=models.CASCADE, related_name="notices")
    platform = models.ForeignKey("debunk.Platform", verbose_name=_("platform"), on_delete=models.CASCADE)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta(OutboxMessage.Meta):
        verbose_name = _("report outcome notice")
        verbose_name_plural = _("report outcome notices")

    def __str__(self) -> str:
        return self.message_id


class ReporterMessage(models.Model):
    """Outbox: an e-mail telling a reporter who left a contact what became of the report."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    report = models.ForeignKey(RumorReport, verbose_name=_("report"), on_delete=models.CASCADE, related_name="messages")
    to = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message to a reporter")
        verbose_name_plural = _("messages to reporters")

    def __str__(self) -> str:
        return self.subject


class VerificationRequest(models.Model):
    """A request to a department or an expert to verify a claim, with a deadline; the answer, and who gave it,
    is the rumor's verification on record."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ANSWERED = "answered", _("answered")
        CANCELLED = "cancelled", _("cancelled")

    class Answer(models.TextChoices):
        FALSE = "false", _("the claim is false")
        MISLEADING = "misleading", _("the claim is misleading")
        TRUE = "true", _("the claim is true")
        INCONCLUSIVE = "inconclusive", _("cannot be determined")

    rumor = models.ForeignKey(
        "debunk.Rumor", verbose_name=_("rumor"), on_delete=models.CASCADE, related_name="verification_requests"
    )
    question = models.TextField(_("question"))
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verifier account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="verification_requests",
    )
    verifier_email = models.EmailField(_("verifier e-mail"), blank=True)
    verifier_name = models.CharField(_("department or expert"), max_length=200)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    answer = models.CharField(_("answer"), max_length=12, choices=Answer.choices, blank=True)
    answer_text = models.TextField(_("explanation"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    answered_by_email = models.EmailField(_("answered from e-mail"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    token_hash = models.CharField(_("answer link (hash)"), max_length=64, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("verification request")
        verbose_name_plural = _("verification requests")
        permissions = [
            ("request_verification", _("Can ask a department or expert to verify a claim")),
            ("answer_verification", _("Can answer verification requests addressed to them")),
        ]

    def __str__(self) -> str:
        return f"{self.verifier_name}: {self.rumor}"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_at < timezone.now()


class Handover(models.Model):
    """A hand-over of clues (leads, rumors) to a department: the package's manifest is signed like receipts."""

    class Status(models.TextChoices):
        PREPARED = "prepared", _("prepared")
        SENT = "sent", _("sent")
        ACKNOWLEDGED = "acknowledged", _("acknowledged by the department")
        CLOSED = "closed", _("closed")

    recipient = models.CharField(_("department"), max_length=200)
    recipient_contact = models.CharField(_("contact at the department"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PREPARED)
    follow_up = models.TextField(_("follow-up"), blank=True)
    clusters = models.ManyToManyField(LeadCluster, verbose_name=_("leads"), blank=True, related_name="handovers")
    rumors = models.ManyToManyField("debunk.Rumor", verbose_name=_("rumors"), blank=True, related_name="handovers")
    package = models.FileField(_("package"), upload_to="handovers/%Y/%m/", blank=True, editable=False)
    package_sha256 = models.CharField(_("SHA-256 of the package"), max_length=64, blank=True, editable=False)
    manifest = models.JSONField(_("signed manifest"), default=dict, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("hand-over")
        verbose_name_plural = _("hand-overs")

    def __str__(self) -> str:
        return f"#{self.pk} → {self.recipient}"
