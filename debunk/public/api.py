"""What platforms show of the stock: debunk cards for their search results and comment sections, and the
sample library itself (published rumors and their ClaimReview) for syncing."""

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.request_log import LoggedAPIView, LoggedListAPIView
from debunk.api.views import ERROR_RESPONSES, ApiCursorPagination, ErrorSerializer
from debunk.public.cards import claim_review, rumor_card
from debunk.stock import selectors
from debunk.stock.models import Rumor
from search.services import search_cards

MAX_QUERY = 200


class CardsQuery(serializers.Serializer):
    q = serializers.CharField(
        max_length=MAX_QUERY,
        validators=[
            RegexValidator(r"^[^\x00]*$", "Null characters are not allowed."),
            # what str.strip() leaves something of (ECMA's \s, which the schema's readers use, lacks \x1c-\x1f, \x85)
            RegexValidator(r"[^\s\x1c-\x1f\x85]", "This field may not be blank.", code="blank"),
        ],
    )
    limit = serializers.IntegerField(min_value=1, max_value=10, default=3)


class CardOut(serializers.Serializer):
    """A debunk card (see debunk.public.cards.rumor_card)."""

    rumor_id = serializers.IntegerField()
    claim = serializers.CharField()
    category = serializers.DictField(child=serializers.CharField())
    verdict = serializers.DictField(child=serializers.CharField())
    label_text = serializers.CharField()
    debunk = serializers.DictField(allow_null=True)
    updated_at = serializers.DateTimeField()


class SearchCardsView(LoggedAPIView):
    @extend_schema(
        summary="Debunk cards to show above your own search results",
        description="Cards only for queries that touch a known rumor (a relevance threshold); unrelated queries "
        "get an empty list.",
        parameters=[CardsQuery],
        responses={
            200: inline_serializer("SearchCards", {"cards": CardOut(many=True)}),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A missing or bad `q`: `{"q": ["…"]}`.'),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request) -> Response:
        params = CardsQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        hits = search_cards(params.validated_data["q"], limit=params.validated_data["limit"])
        self.log_items = len(hits)
        self.log_outcome = "cards" if hits else "no_cards"
        return Response({"cards": [rumor_card(hit.rumor, request) for hit in hits]})


class RumorCardView(LoggedAPIView):
    @extend_schema(
        summary="The card to pin above a post's comments (评论置顶), with the label text",
        parameters=[OpenApiParameter("rumor_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: CardOut,
            404: OpenApiResponse(ErrorSerializer, description="No such live rumor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, rumor_id: str) -> Response:
        # the URL takes any segment, so that a malformed id gets the API's JSON 404 rather than Django's page
        valid = rumor_id.isascii() and rumor_id.isdecimal() and len(rumor_id) < 19
        rumor = selectors.public_rumors().filter(pk=int(rumor_id)).first() if valid else None
        if rumor is None:
            raise NotFound("No published rumor with this id.")
        return Response(rumor_card(rumor, request))


class RumorFilter(serializers.Serializer):
    category = serializers.SlugField(required=False, help_text="Category code; its sub-categories are included.")
    verdict = serializers.SlugField(required=False, help_text="Verdict label code.")
    updated_since = serializers.DateTimeField(
        required=False,
        help_text="Only rumors changed at or after this time; then withdrawn ones (retracted, expired) come too, "
        "with their status, so that a copy of the library can drop them.",
    )

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except (OverflowError, ValueError) as exc:
            raise serializers.ValidationError({"updated_since": ["Date-time out of range."]}) from exc


class SyncPagination(ApiCursorPagination):
    ordering = ("updated_at", "id")  # oldest change first: a syncing platform resumes from its last cursor


class RumorOut(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")
    verdict = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField()
    card = serializers.SerializerMethodField()

    class Meta:
        model = Rumor
        fields = [
            "id",
            "claim",
            "variants",
            "category",
            "verdict",
            "severity",
            "status",
            "published_at",
            "updated_at",
            "valid_until",
            "card",
        ]

    def get_verdict(self, rumor: Rumor) -> dict[str, str]:
        return {"code": rumor.verdict.code, "text": rumor.verdict.text}

    def get_variants(self, rumor: Rumor) -> list[str]:
        return [v.text for v in rumor.variants.all()]

    def get_card(self, rumor: Rumor) -> dict[str, Any]:
        return rumor_card(rumor, self.context.get("request"))


class _SyncList(LoggedListAPIView):
    pagination_class = SyncPagination

    published_only = False

    def get_queryset(self) -> QuerySet[Rumor]:
        filters = RumorFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.library_rumors(**filters.validated_data, published_only=self.published_only)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        self.log_items = len(response.data.get("results", []))
        return response


SYNC_PARAMETERS = [RumorFilter]  # the schema states each filter as the serializer validates it
SYNC_ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad filters, with field errors."),
    404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
    **ERROR_RESPONSES,
}


class RumorListView(_SyncList):
    """The sample library: published rumors, oldest change first, for other platforms to sync."""

    serializer_class = RumorOut

    @extend_schema(
        summary="Sync the sample library",
        parameters=SYNC_PARAMETERS,
        responses={200: RumorOut(many=True), **SYNC_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


class ClaimReviewOut(serializers.BaseSerializer):
    def to_representation(self, rumor: Rumor) -> dict[str, Any]:
        return claim_review(rumor, self.context.get("request"))


class ClaimReviewFeedView(_SyncList):
    """The same rumors as `/rumors`, each as a schema.org ClaimReview."""

    serializer_class = ClaimReviewOut
    published_only = True

    @extend_schema(
        summary="The sample library as a ClaimReview JSON feed",
        parameters=SYNC_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT, **SYNC_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)
