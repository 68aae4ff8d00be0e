"""GET /api/v1/corrections (the pull feed, for platforms without a webhook) and POST /api/v1/corrections/ack
(a platform reports corrections delivered, shown to the user or clicked)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictChoiceField, StrictIntegerField
from debunk.api.request_log import LoggedAPIView, LoggedListAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.api.views import ERROR_RESPONSES, ApiCursorPagination, ErrorSerializer, not_an_object
from debunk.corrections.deliveries import (
    ACK_STATUSES,
    FEED_STATUSES,
    MAX_ACK,
    AckItem,
    corrections_ack,
    corrections_feed,
    feed_items,
)
from debunk.corrections.models import Correction, Interaction
from debunk.matching.api import BAD_INPUT
from debunk.public.api import CardOut

MAX_ID = 2**63 - 1


class CorrectionOut(serializers.Serializer):
    """One correction, as in a webhook's `data.corrections[]`, plus its status and times."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Correction.Kind.values)
    revision = serializers.IntegerField(help_text="0 for a correction; the change it reports for an update.")
    rumor_id = serializers.IntegerField()
    rumor_status = serializers.CharField(help_text="published, or retracted/expired for an update.")
    user_hash = serializers.CharField(help_text="HMAC of your user id under your platform's pseudonym key.")
    interaction = serializers.ChoiceField(choices=[i.name.lower() for i in Interaction])
    exposed_at = serializers.DateTimeField()
    card = CardOut()
    status = serializers.ChoiceField(choices=FEED_STATUSES)
    delivered_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    clicked_at = serializers.DateTimeField(allow_null=True)


class FeedFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=FEED_STATUSES, required=False)


class FeedPagination(ApiCursorPagination):
    ordering = ("id",)


class CorrectionFeedView(LoggedListAPIView):
    """The calling platform's corrections, oldest first: page through with `cursor` and keep the last one."""

    serializer_class = CorrectionOut
    pagination_class = FeedPagination

    def get_queryset(self) -> Any:
        filters = FeedFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return corrections_feed(platform_id=self.request.auth.platform_id, status=filters.validated_data.get("status"))

    @extend_schema(
        summary="Corrections for your users (pull feed), oldest first",
        description="Without `status`: every correction but those deferred by the daily cap. As a queue: "
        "read `status=pending` and acknowledge each one as `delivered` (POST /corrections/ack).",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=FEED_STATUSES, description="Only this status."),
        ],
        responses={
            200: CorrectionOut(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A bad `status`: `{"status": ["…"]}`.'),
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.log_items = len(page)
        return self.get_paginated_response(feed_items(page))


class AckItemIn(serializers.Serializer):
    id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    status = StrictChoiceField(choices=ACK_STATUSES)
    at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="Default: now.")


class AckIn(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.JSONField(allow_null=True), allow_empty=False, min_length=1, max_length=MAX_ACK
    )


class AckOut(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One per item, in order: `{id, status}` (the correction's status now; a status never moves "
        "back) or `{id, error: {field: [message]}}`; another platform's id is `not found`.",
    )


class CorrectionAckView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]

    @extend_schema(
        summary="Report up to 1,000 corrections delivered, shown (acknowledged) or clicked",
        request=AckIn,
        responses={200: AckOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        form = AckIn(data=request.data)
        form.is_valid(raise_exception=True)
        results: list[dict[str, Any] | None] = []
        valid: list[tuple[int, AckItem]] = []
        checker = AckItemIn()
        for raw in form.validated_data["items"]:
            if not isinstance(raw, dict):
                results.append({"id": None, "error": not_an_object()})
                continue
            try:
                data = checker.run_validation(raw)
            except (serializers.ValidationError, OverflowError, ValueError) as exc:
                detail = exc.detail if isinstance(exc, serializers.ValidationError) else {"at": ["Out of range."]}
                item_id = raw.get("id") if type(raw.get("id")) is int else None
                results.append({"id": item_id, "error": detail})
                continue
            valid.append((len(results), AckItem(data["id"], data["status"], data["at"])))
            results.append(None)
        answers = corrections_ack(platform_id=request.auth.platform_id, items=[item for _, item in valid])
        for (position, _item), answer in zip(valid, answers, strict=True):
            results[position] = answer
        self.log_items = len(results)
        self.log_outcome = f"ack:{sum('error' not in r for r in results if r)}/{len(results)}"
        return Response({"results": results})
