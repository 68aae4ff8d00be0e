"""Admin search over rows keyed by rumor and pseudonymous account (corrections, sanctions)."""

from django.db.models import QuerySet


def rumor_or_hash_search(queryset: QuerySet, search_term: str, hash_field: str) -> tuple[QuerySet, bool]:
    """A number finds a rumor's rows, anything else the rows whose HMAC starts with it (ModelAdmin's
    get_search_results contract: the queryset, and False as no duplicates can arise)."""
    term = search_term.strip()
    if not term:
        return queryset, False
    if term.isdigit() and len(term) < 19:
        return queryset.filter(rumor_id=int(term)), False
    return queryset.filter(**{f"{hash_field}__startswith": term.lower()}), False
