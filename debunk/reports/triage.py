"""Triage of leads: link to a rumor, draft a rumor, dismiss; the first action on a lead is timed."""

from typing import Any

from django.db.models import Q
from django.utils import timezone

from debunk.reports.models import LeadCluster


def lead_first_action(cluster: LeadCluster, by: Any) -> None:
    """Record the first action on a lead (any triage action, verification request or hand-over), once."""
    LeadCluster.objects.filter(Q(pk=cluster.pk), Q(first_action_at__isnull=True)).update(
        first_action_at=timezone.now(), first_action_by=by
    )
