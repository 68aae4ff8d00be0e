"""GET /api/v1/posts/matches: the calling platform's `posts.matched` and `posts.unmatched` notices (the pull feed;
the same items go to its webhook as the events' `data`), oldest first."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.request_log import LoggedListAPIView
from debunk.api.views import ERROR_RESPONSES, ApiCursorPagination, ErrorSerializer
from debunk.warning.models import PostMatchNotice
from debunk.warning.post_notices import EVENTS, feed_item, notices_feed


class PostMatchLabelOut(serializers.Serializer):
    code = serializers.CharField(help_text="The verdict label's code, e.g. `false`.")
    text_zh = serializers.CharField()
    text_en = serializers.CharField()


class PostMatchDebunkOut(serializers.Serializer):
    title = serializers.CharField(help_text="The newest published debunk's title.")
    url = serializers.CharField(help_text="The rumor's public page.")


class PostMatchOut(serializers.Serializer):
    """One notice, as in the `posts.matched` / `posts.unmatched` webhook's `data`."""

    id = serializers.IntegerField()
    event = serializers.ChoiceField(
        choices=EVENTS,
        help_text="`posts.matched`: these posts now carry the rumor (label or remove them); `posts.unmatched`: the "
        "rumor was retracted or expired (lift what you did for it).",
    )
    created_at = serializers.DateTimeField()
    rumor_id = serializers.IntegerField()
    rumor_status = serializers.CharField(help_text="published; retracted or expired for `posts.unmatched`.")
    action = serializers.CharField(help_text="The action the rumor's verdict asks for (`block`, `label`, …).")
    label = PostMatchLabelOut()
    debunk = PostMatchDebunkOut(allow_null=True)
    platform_post_ids = serializers.ListField(
        child=serializers.CharField(),
        help_text="Your post ids (at most POST_MATCH_NOTICE_CHUNK, 1,000 by default, a notice: more make several).",
    )
    matched_at = serializers.DateTimeField(required=False, help_text="`posts.matched` only.")
    unmatched_at = serializers.DateTimeField(required=False, help_text="`posts.unmatched` only.")


class PostMatchFilter(serializers.Serializer):
    event = serializers.ChoiceField(choices=EVENTS, required=False)


class PostMatchPagination(ApiCursorPagination):
    ordering = ("id",)


class PostMatchFeedView(LoggedListAPIView):
    """The calling platform's post match notices, oldest first: page through with `cursor` and keep the last one."""

    serializer_class = PostMatchOut
    pagination_class = PostMatchPagination

    def get_queryset(self) -> QuerySet[PostMatchNotice]:
        filters = PostMatchFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return notices_feed(platform_id=self.request.auth.platform_id, event=filters.validated_data.get("event"))

    @extend_schema(
        summary="Which of your posts now match a rumor, or no longer do (pull feed), oldest first",
        description="When a rumor is published (or given a new variant or image), the archive of your reported posts "
        "is re-scanned: the posts that now match it come as `posts.matched`; when it is retracted or expires, the "
        "posts matched to it come as `posts.unmatched`. The same items are pushed to your webhook as the events' "
        "`data`.",
        parameters=[OpenApiParameter("event", OpenApiTypes.STR, enum=EVENTS, description="Only this event.")],
        responses={
            200: PostMatchOut(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A bad `event`: `{"event": ["…"]}`.'),
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.log_items = len(page)
        return self.get_paginated_response([feed_item(notice) for notice in page])
