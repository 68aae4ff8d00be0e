from debunk.models.apikey import ApiKey, ApiRequestLog
from debunk.models.attachment import Attachment
from debunk.models.audit import AuditEvent
from debunk.models.corrections import Correction, Exposure, Interaction, WebhookDelivery, WebhookEndpoint
from debunk.models.debunk import Debunk, DebunkSource
from debunk.models.matching import AllowListEntry, Fingerprint, IndexChange, Match, Post
from debunk.models.platform import Platform
from debunk.models.rumor import ReviewItem, Rumor, RumorSource, RumorVariant
from debunk.models.sanctions import (
    BannedIdentity,
    Measure,
    Organization,
    OrganizationMember,
    Report,
    Sanction,
    SanctionNotice,
    SanctionRule,
)
from debunk.models.tracing import FirstPoster, Trace

__all__ = [
    "AllowListEntry",
    "ApiKey",
    "ApiRequestLog",
    "Attachment",
    "AuditEvent",
    "BannedIdentity",
    "Correction",
    "Debunk",
    "DebunkSource",
    "Exposure",
    "Fingerprint",
    "FirstPoster",
    "IndexChange",
    "Interaction",
    "Match",
    "Measure",
    "Organization",
    "OrganizationMember",
    "Platform",
    "Post",
    "Report",
    "ReviewItem",
    "Rumor",
    "RumorSource",
    "RumorVariant",
    "Sanction",
    "SanctionNotice",
    "SanctionRule",
    "Trace",
    "WebhookDelivery",
    "WebhookEndpoint",
]
