"""What platforms and search engines are shown of a rumor: the debunk card (search results, pinned above
comments, match responses) and its schema.org ClaimReview.

Plain functions of a rumor fetched with `selectors.public_rumors()`, shared by the public pages, the API and
the feeds, so a card looks the same wherever it appears.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from debunk.stock.models import Rumor


def public_url(path: str, request: HttpRequest | None = None) -> str:
    """An absolute URL on the public site: PUBLIC_BASE_URL when set, else the request's host."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def label_text(rumor: Rumor) -> str:
    """The label a platform shows on a post carrying the rumor, e.g. "谣言：……"."""
    debunk = rumor.latest_debunk
    return f"{rumor.verdict.text_zh}：{debunk.title}" if debunk else rumor.verdict.text_zh


def rumor_card(rumor: Rumor, request: HttpRequest | None = None) -> dict[str, Any]:
    """The debunk card of a rumor."""
    debunk = rumor.latest_debunk
    return {
        "rumor_id": rumor.pk,
        "claim": rumor.claim,
        "category": {"code": rumor.category.code, "name": rumor.category.name},
        "verdict": {"code": rumor.verdict.code, "text": rumor.verdict.text, "colour": rumor.verdict.colour},
        "label_text": label_text(rumor),
        "debunk": {
            "title": debunk.title,
            "summary": debunk.summary,
            "url": public_url(rumor.get_absolute_url(), request),
            "published_at": debunk.published_at.isoformat() if debunk.published_at else None,
        }
        if debunk
        else None,
        "updated_at": rumor.updated_at.isoformat(),
    }


def claim_review(rumor: Rumor, request: HttpRequest | None = None) -> dict[str, Any]:
    """schema.org ClaimReview (https://schema.org/ClaimReview) of a published rumor, as JSON-LD."""
    debunk = rumor.latest_debunk
    verdict = rumor.verdict
    url = public_url(rumor.get_absolute_url(), request)
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": rumor.claim,
        "datePublished": (rumor.published_at or rumor.updated_at).date().isoformat(),
        "author": {"@type": "Organization", "name": settings.PUBLIC_ORGANIZATION_NAME, "url": public_url("/", request)},
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": verdict.claimreview_value,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": verdict.claimreview_rating,
        },
        "itemReviewed": {"@type": "Claim", "appearance": [s.url for s in rumor.sources.all()][:10]},
        "inLanguage": debunk.language if debunk else settings.LANGUAGE_CODE,
    }
    if rumor.first_seen_at:
        review["itemReviewed"]["datePublished"] = rumor.first_seen_at.date().isoformat()
    if debunk:
        review["headline"] = debunk.title
        review["description"] = debunk.summary
    return review
