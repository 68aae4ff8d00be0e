"""reports_submit on the database: folding, leads by fingerprints, matching on arrival, idempotency, receipts."""

import copy
import io

import numpy as np
from PIL import Image

from debunk.images.services import query_image
from debunk.matching.services import reset_caches
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster, ReportContent, ReporterMessage, ReportNotice, RumorReport
from debunk.reports.receipts import receipt_verify
from tests.factories import publish_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
LEAD = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长做好准备"


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((256, 256)).save(out, "PNG")
    return out.getvalue()


def test_the_same_content_folds_into_one_content_with_a_count(category):
    answers = reports_submit([ReportItem(category, text=LEAD) for _ in range(5)])
    assert len({a.id for a in answers}) == 5  # five reports, each with its own receipt
    content = ReportContent.objects.get()
    assert content.report_count == 5
    cluster = LeadCluster.objects.get()
    assert (cluster.report_count, cluster.content_count, cluster.status) == (5, 1, "open")
    assert {a.cluster_id for a in answers} == {cluster.pk}


def test_a_reworded_copy_joins_the_lead_and_another_text_starts_one(category):
    first = reports_submit([ReportItem(category, text=LEAD)])[0]
    near = reports_submit([ReportItem(category, text="【转】" + LEAD + "！！大家转发")])[0]
    other = reports_submit(
        [ReportItem(category, text="某地发生地震，震级八级，请大家不要出门，消息来自内部人员，千万不要外传")]
    )[0]
    assert near.cluster_id == first.cluster_id
    assert other.cluster_id != first.cluster_id
    assert LeadCluster.objects.get(pk=first.cluster_id).content_count == 2


def test_a_known_rumor_is_linked_and_the_reporter_told(checker, reviewer, category, platform):
    rumor = publish_rumor(checker, reviewer, claim=CLAIM)
    reset_caches()
    [answer] = reports_submit([ReportItem(category, text=CLAIM, external_id="r1", reporter="u1")], platform=platform)
    assert answer.rumor_id == rumor.pk
    report = RumorReport.objects.get(pk=answer.id)
    assert report.outcome == "debunked"
    assert report.reporter_hash and report.reporter_hash != "u1"
    cluster = LeadCluster.objects.get(pk=answer.cluster_id)
    assert (cluster.status, cluster.rumor_id) == ("linked", rumor.pk)
    notice = ReportNotice.objects.get(report=report)
    assert notice.payload["outcome"] == "debunked" and notice.payload["rumor_id"] == rumor.pk
    public = reports_submit([ReportItem(category, text=CLAIM, contact="a@example.org")])[0]
    message = ReporterMessage.objects.get(report_id=public.id)
    assert f"/rumors/{rumor.pk}/" in message.body


def test_a_resubmitted_external_id_answers_the_same_report(category, platform):
    [a] = reports_submit([ReportItem(category, text=LEAD, external_id="x")], platform=platform)
    [b, c] = reports_submit(
        [
            ReportItem(category, text="other text entirely, long enough", external_id="x"),
            ReportItem(category, text=LEAD, external_id="y"),
        ],
        platform=platform,
    )
    assert b.id == a.id and b.receipt == a.receipt and not b.created
    assert c.created and c.id != a.id
    assert RumorReport.objects.count() == 2


def test_screenshots_are_stored_byte_for_byte_and_fold_by_hash(category):
    data = png(1)
    [a] = reports_submit([ReportItem(category, images=(query_image(data),))])
    [b] = reports_submit([ReportItem(category, text="看这张图", images=(query_image(data),))])
    image = ReportContent.objects.get(pk=RumorReport.objects.get(pk=a.id).content_id).images.get()
    assert image.file.read() == data
    assert a.cluster_id == b.cluster_id  # the same screenshot: the same lead


def test_minors_shorten_the_deadline(category):
    [a] = reports_submit([ReportItem(category, text=LEAD)])
    before = LeadCluster.objects.get(pk=a.cluster_id).deadline_at
    reports_submit([ReportItem(category, text=LEAD, involves_minor=True)])
    cluster = LeadCluster.objects.get(pk=a.cluster_id)
    assert cluster.involves_minor and cluster.deadline_at < before


def test_receipts_verify_and_a_tampered_one_does_not(category):
    [a] = reports_submit([ReportItem(category, text=LEAD)])
    assert receipt_verify(a.receipt)
    for field, value in [
        ("report_id", a.id + 1),
        ("content_sha256", "0" * 64),
        ("received_at", "2020-01-01T00:00:00Z"),
    ]:
        tampered = copy.deepcopy(a.receipt)
        tampered[field] = value
        assert not receipt_verify(tampered), field
    assert not receipt_verify({**a.receipt, "signature": "AAAA"})
    assert not receipt_verify("not a receipt")


def test_an_external_id_taken_by_a_concurrent_request_answers_its_report(category, platform, monkeypatch):
    from debunk.reports import intake

    [first] = reports_submit([ReportItem(category, text=LEAD, external_id="race")], platform=platform)
    real, calls = intake._earlier, []

    def stale_once(items, platform):  # the concurrent request committed after this one looked
        calls.append(1)
        return {} if len(calls) == 1 else real(items, platform)

    monkeypatch.setattr(intake, "_earlier", stale_once)
    [again] = reports_submit([ReportItem(category, text=LEAD, external_id="race")], platform=platform)
    assert len(calls) == 2
    assert again.id == first.id and not again.created
    assert RumorReport.objects.count() == 1 and ReportContent.objects.get().report_count == 1


def test_a_shared_band_key_alone_does_not_join_a_lead(category):
    """An LSH band collision is only a candidate: the signatures must agree on REPORT_CLUSTER_MIN_JACCARD."""
    from debunk.matching.fingerprints import fingerprint_text
    from debunk.matching.index import band_keys
    from debunk.reports.intake import _signed
    from debunk.reports.models import LeadKey

    other = "据说是因为暴雨导致校舍受损，市政府正在组织维修工作，预计下个月才能恢复正常上课，请家长们相互转告"
    [first] = reports_submit([ReportItem(category, text=LEAD)])
    band = _signed(int(band_keys(fingerprint_text(other).signature[None, :])[0][0]))
    LeadKey.objects.create(cluster_id=first.cluster_id, key=band)  # as if the two texts collided in one band
    [second] = reports_submit([ReportItem(category, text=other)])
    assert second.cluster_id != first.cluster_id
