from debunk.models.apikey import ApiKey, ApiRequestLog
from debunk.models.attachment import Attachment
from debunk.models.audit import AuditEvent
from debunk.models.corrections import Correction, Exposure, Interaction, WebhookDelivery, WebhookEndpoint
from debunk.models.debunk import Debunk, DebunkSource
from debunk.models.matching import AllowListEntry, Fingerprint, IndexChange, Match, Post
from debunk.models.platform import Platform
from debunk.models.rumor import ReviewItem, Rumor, RumorSource, RumorVariant

__all__ = [
    "AllowListEntry",
    "ApiKey",
    "ApiRequestLog",
    "Attachment",
    "AuditEvent",
    "Correction",
    "Debunk",
    "DebunkSource",
    "Exposure",
    "Fingerprint",
    "IndexChange",
    "Interaction",
    "Match",
    "Platform",
    "Post",
    "ReviewItem",
    "Rumor",
    "RumorSource",
    "RumorVariant",
    "WebhookDelivery",
    "WebhookEndpoint",
]
