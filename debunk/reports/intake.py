"""Taking reports: from the public page and from the platforms' API, one service for both (`reports_submit`).

For each report:
- **Idempotency**: a platform's resubmitted `external_id` answers the report it made first (same id, receipt).
- **Evidence**: the text, the link (as text, never fetched) and the screenshots are stored byte for byte, once
  per distinct content (`ReportContent`, keyed by the SHA-256 of the whole): the same content reported many
  times is one content with a count (duplicate folding), each report keeping its own signed receipt.
- **Matching on arrival**: a new content is matched against the live stock (its text, and its screenshots by
  image hash) like a post; a confident match links the published rumor, and the reporter is told its debunk.
- **Leads**: a content that matches nothing joins the open lead (`LeadCluster`) holding the same normalised
  text (exact hash) or a near-duplicate (a shared MinHash LSH band key, confirmed by the signatures' agreement
  ≥ REPORT_CLUSTER_MIN_JACCARD) or the same screenshot; else it starts a lead. Contents matched to a rumor
  gather in that rumor's linked lead. Counts, reach and the deadline (the category's, shorter when a minor is
  involved) are kept on the lead.

Nothing is stored for an item that fails validation: callers validate first (the API's serializers, the page's
form); this service takes checked items and writes each batch in one transaction.
"""

import mimetypes
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.pseudonyms import pseudonym
from debunk.images.services import QueryImage
from debunk.matching.fingerprint import TextFingerprint
from debunk.matching.fingerprints import fingerprint_text
from debunk.matching.index import band_keys, exact_key
from debunk.matching.services import MatchRequest, decide_requests, merge_decisions
from debunk.reports import notices
from debunk.reports.models import LeadCluster, LeadKey, ReportContent, ReportImage, RumorReport
from debunk.reports.receipts import receipt_sign
from debunk.reports.signing import canonical, sha256_hex
from debunk.stock.models import Rumor
from labels.models import Category

INT64 = 1 << 63


@dataclass(frozen=True)
class ReportItem:
    """One checked report (validated by the API serializer or the page's form)."""

    category: Category
    text: str = ""
    url: str = ""
    images: tuple[QueryImage, ...] = ()
    involves_minor: bool = False
    where: str = ""
    external_id: str = ""
    platform_post_id: str = ""
    reporter: str = ""  # the platform's pseudonymous id of its user: stored only as a keyed hash
    contact: str = ""  # an e-mail address for the outcome (public page)
    language: str = ""  # the reporter's language, for that e-mail
    reposts: int | None = None
    views: int | None = None


@dataclass(frozen=True)
class Submitted:
    id: int
    receipt: dict
    rumor_id: int | None
    cluster_id: int
    created: bool


@dataclass
class _Content:
    """A distinct content of the batch: its hashes, and the row once found or made."""

    sha256: str
    text: str
    url: str
    images: tuple[QueryImage, ...]
    text_sha256: str
    url_sha256: str
    row: ReportContent | None = None
    new: bool = False
    items: list[int] = field(default_factory=list)
    # a new content's facts, worked out before the write transaction (matching is the slow part)
    prepared: bool = False
    rumor: Rumor | None = None
    fp: TextFingerprint | None = None
    keys: list[int] = field(default_factory=list)


def content_hashes(text: str, url: str, images: tuple[QueryImage, ...]) -> tuple[str, str, str]:
    """(whole, text, link) SHA-256: the whole is the hash of the canonical JSON of the parts' hashes."""
    text_sha, url_sha = sha256_hex(text.encode()), sha256_hex(url.encode())
    whole = canonical(
        {"image_sha256": [i.print.sha256 for i in images], "text_sha256": text_sha, "url_sha256": url_sha}
    )
    return sha256_hex(whole), text_sha, url_sha


def reports_submit(items: list[ReportItem], *, platform: Platform | None = None) -> list[Submitted]:
    """Store a batch of checked reports (in one transaction) and answer each one, in order. New contents are
    matched and fingerprinted before the transaction, so that it holds its locks only while writing."""
    now = timezone.now()
    source = RumorReport.Source.PLATFORM if platform is not None else RumorReport.Source.PUBLIC
    grouped = _group(items)
    _prepare([c for c in _with_rows(grouped).values() if c.row is None])
    for attempt in range(2):
        try:
            with transaction.atomic():
                earlier = _earlier(items, platform)
                todo = [i for i, item in enumerate(items) if not (item.external_id and item.external_id in earlier)]
                contents = _contents(items, grouped, set(todo), now)
                reports = _reports(items, todo, contents, platform, source, now)
            break
        except IntegrityError:  # a concurrent request took one of these external ids first: answer its report
            if attempt:
                raise
    answers: list[Submitted] = []
    for i, item in enumerate(items):
        report = reports.get(i) or earlier[item.external_id]
        answers.append(
            Submitted(report.pk, report.receipt, report.rumor_id, report.content.cluster_id, created=i in reports)
        )
    return answers


def _earlier(items: list[ReportItem], platform: Platform | None) -> dict[str, RumorReport]:
    """The platform's reports already made under the batch's external ids."""
    refs = {item.external_id for item in items if item.external_id}
    if platform is None or not refs:
        return {}
    rows = (
        RumorReport.objects.filter(platform=platform, external_id__in=refs)
        .exclude(external_id="")  # the unique index on (platform, external_id) is partial: where it is not empty
        .select_related("content")
        .order_by()
    )
    return {r.external_id: r for r in rows}


# --- contents ------------------------------------------------------------------------------------------------------


def _group(items: list[ReportItem]) -> dict[str, _Content]:
    """The batch's distinct contents, by the SHA-256 of the whole, with the items carrying each."""
    contents: dict[str, _Content] = {}
    for i, item in enumerate(items):
        whole, text_sha, url_sha = content_hashes(item.text, item.url, item.images)
        content = contents.get(whole)
        if content is None:
            content = contents[whole] = _Content(whole, item.text, item.url, item.images, text_sha, url_sha)
        content.items.append(i)
    return contents


def _with_rows(contents: dict[str, _Content]) -> dict[str, _Content]:
    """Find the stored row of each content (None for a new one)."""
    for content in contents.values():
        content.row, content.new = None, False
    for row in ReportContent.objects.filter(sha256__in=list(contents)).select_related("cluster"):
        contents[row.sha256].row = row
    return contents


def _prepare(fresh: list[_Content]) -> None:
    """Match new contents against the live stock and fingerprint them (no write)."""
    todo = [c for c in fresh if not c.prepared]
    rumors = _matched(todo) if todo else {}
    for content in todo:
        content.rumor = rumors.get(content.sha256)
        content.fp = fingerprint_text(content.text) if content.text.strip() else None
        content.keys = _keys(content.fp, content.images)
        content.prepared = True


def _contents(
    items: list[ReportItem], grouped: dict[str, _Content], todo: set[int], now: datetime
) -> dict[str, _Content]:
    """The contents of the items to store, found or made (made ones placed in a lead)."""
    contents = {}
    for sha, content in grouped.items():
        content.items = [i for i in content.items if i in todo]
        if content.items:
            contents[sha] = content
    fresh = [c for c in _with_rows(contents).values() if c.row is None]
    if fresh:
        _prepare(fresh)  # a content stored before the batch started and deleted since (rare)
        leads = _Leads({k for c in fresh for k in c.keys})
        for content in fresh:
            _content_make(content, items[content.items[0]], leads, now)
        made: dict[int, int] = defaultdict(int)
        for content in fresh:
            if content.new and content.row is not None:
                made[content.row.cluster_id] += 1
        _executemany(LeadCluster, "content_count = content_count + %s", [(n, pk) for pk, n in made.items()])
    return contents


def _matched(contents: list[_Content]) -> dict[str, Rumor]:
    """The live rumor each content carries confidently (by its text or a screenshot's hash), if any."""
    requests: list[MatchRequest] = []
    owners: list[str] = []
    for content in contents:
        if content.text.strip():
            requests.append(MatchRequest(content.text, ocr="off"))
            owners.append(content.sha256)
        for image in content.images:
            requests.append(MatchRequest("", image=image, ocr="off"))
            owners.append(content.sha256)
    if not requests:
        return {}
    found: dict[str, list] = defaultdict(list)
    for owner, decisions in zip(owners, decide_requests(requests).decisions, strict=True):
        found[owner].append(decisions)
    rumors = {}
    for owner, groups in found.items():
        confident = [d for d in merge_decisions(*groups) if not d.suspected]
        if confident:
            rumors[owner] = confident[0].rumor
    return rumors


def _content_make(content: _Content, first: ReportItem, leads: "_Leads", now: datetime) -> None:
    """Create the content row (its screenshots stored) in the lead it belongs to; if another request made the
    same content meanwhile, take that one."""
    rumor, fp, keys = content.rumor, content.fp, content.keys
    try:
        with transaction.atomic():
            cluster = _cluster_for(rumor, fp, keys, leads, first, now)
            row = ReportContent.objects.create(
                sha256=content.sha256,
                text=content.text,
                url=content.url,
                cluster=cluster,
                signature=fp.signature.astype("<u4").tobytes() if fp is not None and fp.signature is not None else None,
                rumor=rumor,
                first_reported_at=now,
                last_reported_at=now,
            )
            for position, image in enumerate(content.images):
                _image_store(row, position, image)
            if rumor is None:
                LeadKey.objects.bulk_create([LeadKey(cluster=cluster, key=k) for k in keys], ignore_conflicts=True)
    except IntegrityError:  # made by a concurrent request: fold into it
        row = ReportContent.objects.select_related("cluster").get(sha256=content.sha256)
    else:
        content.new = True
        if rumor is None:
            leads.add(cluster.pk, keys, fp.signature if fp is not None else None)
    content.row = row


IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}


def _image_store(content: ReportContent, position: int, image: QueryImage) -> None:
    """Keep the screenshot's bytes exactly as submitted, named by their SHA-256."""
    content_type = IMAGE_TYPES.get(image.print.format, "application/octet-stream")
    extension = mimetypes.guess_extension(content_type) or ".bin"
    row = ReportImage(
        content=content, position=position, sha256=image.print.sha256, size=len(image.data), content_type=content_type
    )
    row.file.save(f"{image.print.sha256}{extension}", ContentFile(image.data), save=False)
    row.save()


def _signed(value: int) -> int:
    """An unsigned 64-bit key as the signed integer a BigIntegerField holds."""
    return value - (1 << 64) if value >= INT64 else value


def _keys(fp: TextFingerprint | None, images: tuple[QueryImage, ...]) -> list[int]:
    """A content's lead keys: its normalised text's exact hash and, for a long text, its LSH band keys; each
    screenshot's SHA-256."""
    keys = []
    if fp is not None:
        keys.append(_signed(exact_key(fp.exact)))
        if fp.signature is not None:
            keys.extend(_signed(int(k)) for k in band_keys(fp.signature[None, :])[0])
    keys.extend(_signed(int(i.print.sha256[:16], 16)) for i in images)
    return sorted(set(keys))


def _cluster_for(
    rumor: Rumor | None,
    fp: TextFingerprint | None,
    keys: list[int],
    leads: "_Leads",
    first: ReportItem,
    now: datetime,
) -> LeadCluster:
    """The lead a new content joins: its rumor's linked lead, else the open lead it is near (`_Leads.find`),
    else a new lead."""
    if rumor is not None:
        cluster = LeadCluster.objects.filter(rumor=rumor, status=LeadCluster.Status.LINKED).order_by("pk").first()
        return cluster or _cluster_new(first, now, rumor=rumor)
    found = leads.find(fp, keys)
    if found is not None:
        return LeadCluster.objects.get(pk=found)
    return _cluster_new(first, now)


class _Leads:
    """The open leads a batch's new contents may join: who holds each of their keys (one query for the batch),
    kept up to date with the leads the batch makes."""

    def __init__(self, keys: set[int]) -> None:
        self.by_key: dict[int, set[int]] = defaultdict(set)
        open_keys = LeadKey.objects.filter(key__in=keys, cluster__status=LeadCluster.Status.OPEN)
        for key, cluster_id in open_keys.values_list("key", "cluster_id"):
            self.by_key[key].add(cluster_id)
        self.signatures: dict[int, list[np.ndarray]] = {}

    def find(self, fp: TextFingerprint | None, keys: list[int]) -> int | None:
        """A lead sharing an exact key (the normalised text's hash, a screenshot's SHA-256); else one sharing an
        LSH band key whose contents' signatures agree with this one on ≥ REPORT_CLUSTER_MIN_JACCARD of their
        positions (the MinHash estimate of Jaccard similarity); the oldest such lead."""
        shared: dict[int, set[int]] = defaultdict(set)
        for key in keys:
            for cluster_id in self.by_key.get(key, ()):
                shared[cluster_id].add(key)
        exact = set(_exact_keys(fp, keys))
        for cluster_id in sorted(shared):
            if shared[cluster_id] & exact:
                return cluster_id
        if fp is None or fp.signature is None:
            return None
        for cluster_id in sorted(shared)[:20]:
            if any(
                _agreement(other, fp.signature) >= settings.REPORT_CLUSTER_MIN_JACCARD for other in self._of(cluster_id)
            ):
                return cluster_id
        return None

    def add(self, cluster_id: int, keys: list[int], signature: np.ndarray | None) -> None:
        for key in keys:
            self.by_key[key].add(cluster_id)
        if signature is not None and cluster_id in self.signatures:
            self.signatures[cluster_id].append(signature)

    def _of(self, cluster_id: int) -> list[np.ndarray]:
        if cluster_id not in self.signatures:
            rows = ReportContent.objects.filter(cluster_id=cluster_id, signature__isnull=False).order_by("pk")
            self.signatures[cluster_id] = [
                np.frombuffer(bytes(raw), dtype="<u4") for raw in rows.values_list("signature", flat=True)[:10]
            ]
        return self.signatures[cluster_id]


def _exact_keys(fp: TextFingerprint | None, keys: list[int]) -> list[int]:
    """The keys that mean the same content: the normalised text's hash and the screenshots' (not the band keys)."""
    bands = set()
    if fp is not None and fp.signature is not None:
        bands = {_signed(int(k)) for k in band_keys(fp.signature[None, :])[0]}
    return [k for k in keys if k not in bands]


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b)) if a.size == b.size else 0.0


def deadline_for(category: Category, involves_minor: bool, at: datetime) -> datetime:
    hours = category.review_deadline_hours
    if involves_minor:
        hours = min(hours, settings.REPORT_MINOR_DEADLINE_HOURS)
    return at + timedelta(hours=hours)


def _cluster_new(first: ReportItem, now: datetime, rumor: Rumor | None = None) -> LeadCluster:
    linked = rumor is not None
    return LeadCluster.objects.create(
        status=LeadCluster.Status.LINKED if linked else LeadCluster.Status.OPEN,
        category=rumor.category if linked else first.category,
        text=first.text or first.url,
        rumor=rumor,
        first_reported_at=now,
        last_reported_at=now,
        deadline_at=deadline_for(first.category, first.involves_minor, now),
        decided_at=now if linked else None,
    )


# --- reports -------------------------------------------------------------------------------------------------------


def _reports(
    items: list[ReportItem],
    todo: list[int],
    contents: dict[str, _Content],
    platform: Platform | None,
    source: str,
    now: datetime,
) -> dict[int, RumorReport]:
    """Create the batch's reports (one per item; a repeated external id within the batch answers the first),
    sign their receipts, and count them on their contents and leads."""
    by_item = {i: c for c in contents.values() for i in c.items}
    made: dict[int, RumorReport] = {}
    evidence: dict[int, _Content] = {}
    known: dict[int, tuple[int | None, str]] = {}
    seen: dict[str, int] = {}
    for i in todo:
        item, content = items[i], by_item[i]
        if item.external_id and item.external_id in seen:
            made[i] = made[seen[item.external_id]]
            continue
        row = content.row
        assert row is not None
        if row.pk not in known:
            known[row.pk] = _known(row)
        matched, outcome = known[row.pk]
        report = RumorReport(
            source=source,
            platform=platform,
            external_id=item.external_id,
            platform_post_id=item.platform_post_id,
            where=item.where,
            category=item.category,
            content=row,
            involves_minor=item.involves_minor,
            reporter_hash=pseudonym(platform, item.reporter) if platform is not None and item.reporter else "",
            contact=item.contact,
            language=item.language,
            reposts=item.reposts,
            views=item.views,
            received_at=now,
            rumor_id=matched,
            outcome=outcome,
            outcome_at=now if outcome != RumorReport.Outcome.PENDING else None,
        )
        made[i] = report
        evidence[id(report)] = content
        if item.external_id:
            seen[item.external_id] = i
    unique = list({id(r): r for r in made.values()}.values())
    RumorReport.objects.bulk_create(unique)
    received = now.isoformat()
    for report in unique:
        content = evidence[id(report)]
        report.receipt = receipt_sign(
            report_id=report.pk,
            received_at=received,
            content_sha256=content.sha256,
            text_sha256=content.text_sha256,
            url_sha256=content.url_sha256,
            images=[image.print.sha256 for image in content.images],
        )
    receipt = RumorReport._meta.get_field("receipt")
    _executemany(
        RumorReport, "receipt = %s", [(receipt.get_db_prep_value(r.receipt, connection), r.pk) for r in unique]
    )
    _count(unique, now)
    notices.outcome_notify([r for r in unique if r.outcome != RumorReport.Outcome.PENDING])
    return made


def _known(content: ReportContent) -> tuple[int | None, str]:
    """What a new report of a stored content is told at once: the debunk of the rumor it matched or its lead was
    linked to, that a debunk is being prepared (its lead became a draft rumor) or that its lead was dismissed; else
    nothing yet."""
    cluster = content.cluster
    decided = cluster.rumor_id and cluster.status in (LeadCluster.Status.LINKED, LeadCluster.Status.DRAFTED)
    if decided and Rumor.objects.live().filter(pk=cluster.rumor_id).exists():
        return cluster.rumor_id, RumorReport.Outcome.DEBUNKED
    if content.rumor_id:
        return content.rumor_id, RumorReport.Outcome.DEBUNKED
    if decided:  # linked to, or drafted as, a rumor not published yet
        return cluster.rumor_id, RumorReport.Outcome.DRAFTED
    if cluster.status == LeadCluster.Status.DISMISSED:  # the decision stands (reopening the lead reopens its reports)
        return None, RumorReport.Outcome.DISMISSED
    return None, RumorReport.Outcome.PENDING


def _count(reports: list[RumorReport], now: datetime) -> None:
    """Add the reports to their contents' and leads' counts, reach and deadline: one statement per table
    (executemany), whatever the batch holds."""
    per_content: dict[int, int] = defaultdict(int)
    per_cluster: dict[int, list[RumorReport]] = defaultdict(list)
    for report in reports:
        per_content[report.content_id] += 1
        per_cluster[report.content.cluster_id].append(report)
    at = connection.ops.adapt_datetimefield_value(now)
    _executemany(
        ReportContent,
        "report_count = report_count + %s, last_reported_at = CASE WHEN last_reported_at < %s THEN %s "
        "ELSE last_reported_at END",
        [(n, at, at, pk) for pk, n in per_content.items()],
    )
    rows = []
    for cluster_id, group in per_cluster.items():
        deadline = connection.ops.adapt_datetimefield_value(
            min(deadline_for(r.category, r.involves_minor, now) for r in group)
        )
        reach = (sum(r.reposts or 0 for r in group), sum(r.views or 0 for r in group))
        minor = any(r.involves_minor for r in group)
        rows.append((len(group), *reach, at, at, deadline, deadline, minor, cluster_id))
    _executemany(
        LeadCluster,
        "report_count = report_count + %s, reposts = reposts + %s, views = views + %s, "
        "last_reported_at = CASE WHEN last_reported_at < %s THEN %s ELSE last_reported_at END, "
        "deadline_at = CASE WHEN deadline_at > %s THEN %s ELSE deadline_at END, involves_minor = involves_minor OR %s",
        rows,
    )


def _executemany(model: type, assignments: str, rows: list[tuple]) -> None:
    """`UPDATE <table> SET <assignments> WHERE id = %s` for each row (the id last)."""
    if rows:
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)
