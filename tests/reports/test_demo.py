"""The demo reports: a folded lead, a reworded copy joining it, a minor's lead first in the queue; idempotent."""

from debunk.reports.demo import REPORTS, demo_reports_load
from debunk.reports.models import LeadCluster, RumorReport


def test_demo_reports_fill_the_queue_once(db):
    first = demo_reports_load()
    again = demo_reports_load()
    assert [a.id for a in again] == [a.id for a in first]
    assert RumorReport.objects.count() == len(REPORTS)
    school = LeadCluster.objects.get(pk=first[0].cluster_id)
    assert (school.report_count, school.content_count) == (7, 2)  # six copies folded, one rewording joined
    assert LeadCluster.objects.filter(status="open").first().involves_minor  # the queue's order: minors first
