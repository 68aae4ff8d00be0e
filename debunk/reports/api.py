"""The platforms' reports API.

- POST /api/v1/reports: a platform forwards its users' reports and its own monitoring leads, up to
  REPORT_MAX_ITEMS a batch. Each item is checked on its own (a bad one gets its `error`, nothing of it stored); the
  good ones are taken in one `intake.reports_submit` call (folding, leads, matching on arrival, signed receipts).
  A resubmitted `external_id` answers the report made first. Screenshots are base64 in JSON, each through
  `debunk.images.api.ImageField`; a batch decodes at most MATCH_BATCH_MAX_IMAGES of them and its body is at most
  API_IMAGE_BODY_MAX_BYTES.
- POST /api/v1/reports/verify and GET /api/v1/reports/key need no key (a reporter, a court, a journalist may hold
  a receipt): anyone checks a receipt online, or offline with the public key. They are throttled per client IP
  address (API_ANON_THROTTLE_RATE); a request made with a key counts against the key's budget instead.
- GET /api/v1/reports/outcomes: the calling platform's forwarded reports that have an outcome, oldest outcome
  first (the pull feed; the same payloads go to its webhook as `report.outcome` events).
"""

import base64
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField
from debunk.api.parsers import ImageJSONParser
from debunk.api.request_log import LoggedAPIView, LoggedListAPIView
from debunk.api.throttling import ApiKeyBatchThrottle, ApiKeyRateThrottle, ClientIpThrottle
from debunk.api.views import ERROR_RESPONSES, ApiCursorPagination, ErrorSerializer, not_an_object
from debunk.images.api import ImageField
from debunk.matching.api import BAD_INPUT
from debunk.reports import signing
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import RumorReport
from debunk.reports.notices import outcome_payload
from debunk.reports.receipts import public_key, receipt_verify
from labels.models import Category

MAX_BIG = 2**63 - 1  # PositiveBigIntegerField
OUTCOMES = [o for o in RumorReport.Outcome.values if o != RumorReport.Outcome.PENDING]


def _ref(help_text: str, **kwargs: Any) -> StrictCharField:
    """An id of the platform's, kept exactly as sent (no trimming); NUL refused (DRF's CharField does)."""
    return StrictCharField(max_length=128, trim_whitespace=False, help_text=help_text, **kwargs)


class ReportItemIn(serializers.Serializer):
    """One report of a batch (validated item by item: the request schema states an item as any JSON value)."""

    external_id = _ref("Your id of the report: a resubmitted one answers the report made first.")
    category = StrictCharField(max_length=64, help_text="A category code of the classification standard.")
    url = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="The link, as plain text: stored as sent, never fetched.",
    )
    involves_minor = StrictBooleanField(required=False, default=False)
    platform_post_id = _ref("Your id of the reported post.", required=False, allow_blank=True, default="")
    reporter = _ref(
        "Your pseudonymous id of the reporting user; stored only as a keyed hash.",
        required=False,
        allow_blank=True,
        default="",
    )
    reposts = StrictIntegerField(min_value=0, max_value=MAX_BIG, required=False, allow_null=True, default=None)
    views = StrictIntegerField(min_value=0, max_value=MAX_BIG, required=False, allow_null=True, default=None)

    def __init__(self, *args: Any, categories: dict[str, Category] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = categories if categories is not None else {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # limits read when the serializer is made (settings may change between requests, and in tests)
        fields["text"] = StrictCharField(
            max_length=settings.REPORT_TEXT_MAX_CHARS,
            required=False,
            allow_blank=True,
            default="",
            trim_whitespace=False,
            help_text="What was seen, stored byte for byte.",
        )
        fields["images"] = serializers.ListField(
            child=ImageField(),
            max_length=settings.REPORT_MAX_IMAGES,
            required=False,
            default=list,
            help_text="Screenshots, each the file's plain base64.",
        )
        return fields

    def validate_category(self, code: str) -> Category:
        category = self.categories.get(code)
        if category is None:
            raise serializers.ValidationError(_("Unknown category code “%(code)s”.") % {"code": code}, code="invalid")
        return category

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["text"].strip() and not attrs["images"]:
            message = _("Send a text, a screenshot or both.")
            raise serializers.ValidationError({"text": [message]}, code="required")
        return attrs


ITEM_HELP = (
    "Each item: `{external_id, category, text?, url?, images?, involves_minor?, platform_post_id?, reporter?, "
    "reposts?, views?}`. `external_id` (≤ 128 characters) is your id of the report; `category` a category code "
    "of the classification standard; `text` (≤ REPORT_TEXT_MAX_CHARS, 5,000 by default) is kept byte for byte; "
    "`url` (≤ 2,000) is plain text, never fetched; `images` up to REPORT_MAX_IMAGES (5) screenshots, each the "
    "file's plain base64; `reporter` your pseudonymous id of the reporting user (stored only as a keyed hash); "
    "`reposts` and `views` integers ≥ 0. An item needs a text or a screenshot. A bad item gets its own `error`."
)


class ReportsIn(serializers.Serializer):
    # made again by get_fields with REPORT_MAX_ITEMS; each item is checked by ReportItemIn, on its own
    items = serializers.ListField(child=serializers.JSONField(allow_null=True), min_length=1, max_length=100)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["items"] = serializers.ListField(
            child=serializers.JSONField(allow_null=True),
            allow_empty=False,
            min_length=1,
            max_length=settings.REPORT_MAX_ITEMS,
            help_text=ITEM_HELP,
        )
        return fields


class ReportsOut(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One per item, in order: `{external_id, id, receipt, rumor_id, cluster_id, created}` (`rumor_id`: "
        "the published rumor the content matched or its lead was linked to, else null; `created` false when the "
        "`external_id` was known: the first report's answer) or `{external_id, error: {field: [message]}}`.",
    )


def _screenshots(raw: Any) -> int:
    """The screenshots an item would have decoded: none when it holds more than REPORT_MAX_IMAGES (refused
    unread)."""
    images = raw.get("images") if type(raw) is dict else None
    if type(images) is not list or len(images) > settings.REPORT_MAX_IMAGES:
        return 0
    return len(images)


def too_many_screenshots(items: list[Any]) -> None:
    """A 400 for a batch holding more than MATCH_BATCH_MAX_IMAGES screenshots (counted before any is decoded)."""
    if sum(_screenshots(raw) for raw in items) > settings.MATCH_BATCH_MAX_IMAGES:
        message = _("At most %(n)s screenshots in a batch.") % {"n": settings.MATCH_BATCH_MAX_IMAGES}
        raise serializers.ValidationError({"items": [message]}, code="too_many_images")


def _external_id(raw: dict) -> str | None:
    ref = raw.get("external_id")
    return ref if type(ref) is str else None


def _checked(raw: Any, checker: ReportItemIn) -> ReportItem | dict[str, Any]:
    """The item as `reports_submit` takes it, or its error."""
    if not isinstance(raw, dict):
        return {"external_id": None, "error": not_an_object()}
    images = raw.get("images")
    if type(images) is list and len(images) > settings.REPORT_MAX_IMAGES:  # refused before decoding any
        message = _("At most %(n)s screenshots.") % {"n": settings.REPORT_MAX_IMAGES}
        return {"external_id": _external_id(raw), "error": {"images": [message]}}
    try:
        data = checker.run_validation(raw)
    except serializers.ValidationError as exc:
        return {"external_id": _external_id(raw), "error": exc.detail}
    return ReportItem(
        category=data["category"],
        text=data["text"],
        url=data["url"],
        images=tuple(data["images"]),
        involves_minor=data["involves_minor"],
        external_id=data["external_id"],
        platform_post_id=data["platform_post_id"],
        reporter=data["reporter"],
        reposts=data["reposts"],
        views=data["views"],
    )


class ReportsView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]
    parser_classes = [ImageJSONParser]

    @extend_schema(
        summary="Forward up to 100 reports (your users' reports, your monitoring leads); each gets a signed receipt",
        description="Idempotent per `external_id`. Each report is stored byte for byte with its SHA-256, matched "
        "against the published stock on arrival (a match answers its `rumor_id`), and otherwise joins or starts a "
        "lead (`cluster_id`): the same content reported many times is one lead with a count. The `receipt` is "
        "signed (Ed25519): keep it; POST /reports/verify or the public key (GET /reports/key) checks it. Outcomes "
        "follow by the `report.outcome` webhook and GET /reports/outcomes. At most MATCH_BATCH_MAX_IMAGES "
        "screenshots (50 by default) in a batch, and the body is at most API_IMAGE_BODY_MAX_BYTES (15 MB).",
        request=ReportsIn,
        examples=[
            OpenApiExample(
                "A user's report and a monitoring lead",
                request_only=True,
                value={
                    "items": [
                        {
                            "external_id": "rpt-1001",
                            "category": "livelihood",
                            "text": "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水！",
                            "url": "https://weibo.example/p/123",
                            "platform_post_id": "123",
                            "reporter": "u-8f3a",
                            "views": 5400,
                        },
                        {"external_id": "lead-77", "category": "livelihood", "text": "网传本市明天起所有小学停课两周"},
                    ]
                },
            )
        ],
        responses={200: ReportsOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        form = ReportsIn(data=request.data)
        form.is_valid(raise_exception=True)
        items = form.validated_data["items"]
        too_many_screenshots(items)
        checker = ReportItemIn(categories={c.code: c for c in Category.objects.all()})
        results: list[dict[str, Any] | None] = []
        valid: list[tuple[int, ReportItem]] = []
        for raw in items:
            checked = _checked(raw, checker)
            if isinstance(checked, ReportItem):
                valid.append((len(results), checked))
                results.append(None)
            else:
                results.append(checked)
        answers = self._submit([item for _, item in valid], request)
        for (position, item), answer in zip(valid, answers, strict=True):
            results[position] = {
                "external_id": item.external_id,
                "id": answer.id,
                "receipt": answer.receipt,
                "rumor_id": answer.rumor_id,
                "cluster_id": answer.cluster_id,
                "created": answer.created,
            }
        self.log_items = len(results)
        self.log_outcome = f"reports:{len(valid)}/{len(results)}"
        return Response({"results": results})

    @staticmethod
    def _submit(items: list[ReportItem], request: Request) -> list:
        if not items:
            return []
        try:
            return reports_submit(items, platform=request.user.platform)
        except IntegrityError:  # a concurrent request made a report under one of these external ids: answer it
            return reports_submit(items, platform=request.user.platform)


# --- receipts ------------------------------------------------------------------------------------------------------


class VerifyIn(serializers.Serializer):
    receipt = serializers.DictField(help_text="The receipt as POST /reports returned it (a JSON object).")


class VerifyOut(serializers.Serializer):
    valid = serializers.BooleanField(
        help_text="True when this server signed the receipt, it is unchanged, and its report still holds that "
        "evidence; false for anything else."
    )


class KeyOut(serializers.Serializer):
    alg = serializers.CharField(help_text="Ed25519.")
    key_id = serializers.CharField(help_text="The receipts' `key_id`: first 16 hex digits of the key's SHA-256.")
    public_key = serializers.CharField(help_text="Base64 of the 32 raw bytes of the public key.")


class PublicReceiptView(LoggedAPIView):
    """No key needed (a key, if sent, must be valid, and its platform is then throttled and logged as usual)."""

    permission_classes = [AllowAny]
    throttle_classes = [ApiKeyRateThrottle, ClientIpThrottle]


ANON_RESPONSES = {
    401: ERROR_RESPONSES[401],
    429: OpenApiResponse(ErrorSerializer, description="Rate limit of your address (or key) reached; see Retry-After."),
}


class ReceiptVerifyView(PublicReceiptView):
    @extend_schema(
        summary="Check a report's receipt: genuine and unchanged? (no key needed)",
        description="Anyone holding a receipt may ask; throttled per client address (API_ANON_THROTTLE_RATE). "
        "A receipt also verifies offline: the Ed25519 signature (base64 `signature`) covers the canonical JSON "
        "(keys sorted, no spaces, UTF-8) of every other field, under the key of GET /reports/key.",
        request=VerifyIn,
        responses={200: VerifyOut, **BAD_INPUT, **ANON_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        form = VerifyIn(data=request.data)
        form.is_valid(raise_exception=True)
        valid = receipt_verify(form.validated_data["receipt"])
        self.log_outcome = "valid" if valid else "invalid_receipt"
        return Response({"valid": valid})


class ReceiptKeyView(PublicReceiptView):
    @extend_schema(
        summary="The public key that checks receipts and hand-over manifests (no key needed)",
        responses={200: KeyOut, **ANON_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        text = public_key()
        return Response(
            {"alg": signing.ALGORITHM, "key_id": signing.key_id(base64.b64decode(text)), "public_key": text}
        )


# --- outcomes ------------------------------------------------------------------------------------------------------


class OutcomeOut(serializers.Serializer):
    """One forwarded report's outcome, as in the `report.outcome` webhook's `data`."""

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=OUTCOMES,
        help_text="`debunked`: a published debunk applies (`rumor_id`); `drafted`: fact-checkers are preparing one "
        "(`rumor_id` the draft, not public yet); `dismissed`: closed without a debunk.",
    )
    rumor_id = serializers.IntegerField(allow_null=True)
    outcome_at = serializers.DateTimeField()
    cluster_id = serializers.IntegerField()


class OutcomeFilter(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=OUTCOMES, required=False)


class OutcomePagination(ApiCursorPagination):
    ordering = ("outcome_at", "id")


class ReportOutcomesView(LoggedListAPIView):
    """The calling platform's forwarded reports that have an outcome, oldest outcome first: page through with
    `cursor` and keep the last one (a report whose outcome changes later comes again, with its new time)."""

    serializer_class = OutcomeOut
    pagination_class = OutcomePagination

    def get_queryset(self) -> QuerySet[RumorReport]:
        filters = OutcomeFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = (
            RumorReport.objects.filter(platform_id=self.request.auth.platform_id, outcome_at__isnull=False)
            .exclude(outcome=RumorReport.Outcome.PENDING)
            .select_related("content")
        )
        if outcome := filters.validated_data.get("outcome"):
            queryset = queryset.filter(outcome=outcome)
        return queryset

    @extend_schema(
        summary="The outcomes of your forwarded reports (pull feed), oldest outcome first",
        parameters=[OpenApiParameter("outcome", OpenApiTypes.STR, enum=OUTCOMES, description="Only this outcome.")],
        responses={
            200: OutcomeOut(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A bad `outcome`: `{"outcome": ["…"]}`.'),
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.log_items = len(page)
        return self.get_paginated_response([outcome_payload(report) for report in page])
