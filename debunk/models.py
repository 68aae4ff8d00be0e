"""The app's models module: Django loads the models of every part from here (one app label, `debunk`).

Each part keeps its models in its own package; import them from there (`from debunk.stock.models import Rumor`).
"""

from debunk.api.models import ApiKey, ApiRequestLog, Platform
from debunk.core.models import AuditEvent, QueuedTask
from debunk.corrections.models import Correction, Exposure, Interaction, WebhookDelivery
from debunk.images.models import ImageFingerprint, MatchJob, MatchJobNotice
from debunk.matching.models import AllowListEntry, Fingerprint, IndexChange, Match, Post
from debunk.reports.models import (
    Handover,
    LeadCluster,
    LeadKey,
    ReportContent,
    ReporterMessage,
    ReportImage,
    ReportNotice,
    RumorReport,
    VerificationRequest,
)
from debunk.sanctions.models import (
    BannedIdentity,
    Measure,
    Organization,
    OrganizationMember,
    Report,
    Sanction,
    SanctionNotice,
    SanctionRule,
)
from debunk.semantic.models import ClaimEmbedding
from debunk.stock.models import Attachment, Debunk, DebunkSource, ReviewItem, Rumor, RumorSource, RumorVariant
from debunk.tracing.models import FirstPoster, Trace
from debunk.warning.models import Alert, AlertNotice, AlertSubscription, InterceptionCount, PostMatchNotice
from debunk.webhooks.models import WebhookEndpoint

__all__ = [
    "Alert",
    "AlertNotice",
    "AlertSubscription",
    "AllowListEntry",
    "ApiKey",
    "ApiRequestLog",
    "Attachment",
    "AuditEvent",
    "BannedIdentity",
    "ClaimEmbedding",
    "Correction",
    "Debunk",
    "DebunkSource",
    "Exposure",
    "Fingerprint",
    "FirstPoster",
    "Handover",
    "ImageFingerprint",
    "IndexChange",
    "Interaction",
    "InterceptionCount",
    "LeadCluster",
    "LeadKey",
    "Match",
    "MatchJob",
    "MatchJobNotice",
    "Measure",
    "Organization",
    "OrganizationMember",
    "Platform",
    "Post",
    "PostMatchNotice",
    "QueuedTask",
    "Report",
    "ReportContent",
    "ReportImage",
    "ReportNotice",
    "ReporterMessage",
    "ReviewItem",
    "Rumor",
    "RumorReport",
    "RumorSource",
    "RumorVariant",
    "Sanction",
    "SanctionNotice",
    "SanctionRule",
    "Trace",
    "VerificationRequest",
    "WebhookDelivery",
    "WebhookEndpoint",
]
