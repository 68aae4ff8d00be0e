from debunk.models.attachment import Attachment
from debunk.models.audit import AuditEvent
from debunk.models.debunk import Debunk, DebunkSource
from debunk.models.platform import Platform
from debunk.models.rumor import ReviewItem, Rumor, RumorSource, RumorVariant

__all__ = [
    "Attachment",
    "AuditEvent",
    "Debunk",
    "DebunkSource",
    "Platform",
    "ReviewItem",
    "Rumor",
    "RumorSource",
    "RumorVariant",
]
