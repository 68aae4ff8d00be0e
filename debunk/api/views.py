"""The API's own endpoints: a ping (the HTTP floor for benchmarks) and a platform's request log."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.models import ApiRequestLog
from debunk.api.request_log import LoggedAPIView, LoggedListAPIView


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


def not_an_object() -> dict[str, list[str]]:
    """The error of a batch item that is not a JSON object, in the request's language."""
    return {"non_field_errors": [gettext("Each item must be an object.")]}


ERROR_RESPONSES = {
    401: OpenApiResponse(ErrorSerializer, description="No, malformed, unknown or revoked API key."),
    403: OpenApiResponse(ErrorSerializer, description="The key's platform is inactive."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit of the key reached; see Retry-After."),
}
"""Error responses every API endpoint may give, for `@extend_schema(responses={200: …, **ERROR_RESPONSES})`."""


class PingView(LoggedAPIView):
    """Answers `{"ok": true}` to a valid key: the HTTP floor for benchmarks."""

    @extend_schema(
        summary="Check the API key and the connection",
        responses={200: inline_serializer("Ping", {"ok": serializers.BooleanField()}), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class RequestLogSerializer(serializers.ModelSerializer):
    api_key = serializers.CharField(source="api_key.display_prefix", read_only=True)

    class Meta:
        model = ApiRequestLog
        fields = ["id", "created_at", "api_key", "method", "path", "status_code", "latency_ms", "outcome", "items"]
        read_only_fields = fields


class LogFilterSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Only requests at or after this ISO 8601 time.")

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01 cannot be moved to UTC
            raise serializers.ValidationError({"since": ["Date-time out of range."]}) from exc


class ApiCursorPagination(CursorPagination):
    """Cursor pages of 100 (up to 1,000 with `page_size`); a tampered cursor is a 404, never a 500."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, TypeError, ValueError, OverflowError) as exc:  # a position of the wrong type
            raise NotFound("Invalid cursor") from exc


class LogPagination(ApiCursorPagination):
    ordering = ("-created_at", "-id")


class LogListView(LoggedListAPIView):
    """The calling platform's own API requests, newest first."""

    serializer_class = RequestLogSerializer
    pagination_class = LogPagination

    def get_queryset(self) -> QuerySet[ApiRequestLog]:
        filters = LogFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = ApiRequestLog.objects.filter(platform_id=self.request.auth.platform_id).select_related("api_key")
        if since := filters.validated_data.get("since"):
            queryset = queryset.filter(created_at__gte=since)
        return queryset

    @extend_schema(
        summary="Your platform's API requests, newest first",
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601; requests at or after")],
        responses={
            200: RequestLogSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A bad `since`: `{"since": ["…"]}`.'),
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = self.list(request, *args, **kwargs)
        self.log_items = len(response.data.get("results", []))
        return response
