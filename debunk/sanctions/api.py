"""The platforms' side of sanctions and the blacklist.

- GET /api/v1/sanctions (cursor list) and /sanctions/{id}: decisions about the calling platform's own accounts
  (active, expired, lifted, overturned); any other sanction is a 404.
- POST /api/v1/sanctions/{id}/appeal: the platform appeals for its user.
- POST /api/v1/blacklist/check: up to 1,000 identity hashes → banned, until, reason_code each.
- POST /api/v1/blacklist/identities: the platform links identity hashes to its account's blacklist or
  registration-ban sanction.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictCharField, StrictIntegerField, StrictRegexField
from debunk.api.request_log import LoggedAPIView, LoggedListAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.api.views import ERROR_RESPONSES, ErrorSerializer
from debunk.corrections.api import MAX_ID, FeedPagination
from debunk.matching.api import BAD_INPUT
from debunk.sanctions.blacklist import MAX_HASHES, identities_check, identities_link, is_identity_hash
from debunk.sanctions.models import Measure, Sanction
from debunk.sanctions.selectors import PLATFORM_VISIBLE, platform_sanction, platform_sanctions
from debunk.sanctions.services import sanction_appeal_submit, sanction_item

DECISIONS = list(PLATFORM_VISIBLE)
HASH_PATTERN = r"^[0-9a-fA-F]{64}$"
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such sanction of your accounts.")}


class SanctionOut(serializers.Serializer):
    id = serializers.IntegerField()
    author_hash = serializers.CharField(help_text="The account: HMAC of its id under your pseudonym key.")
    measure = serializers.ChoiceField(choices=Measure.values)
    days = serializers.IntegerField(allow_null=True, help_text="Length of a time-limited measure.")
    status = serializers.ChoiceField(choices=[s.value for s in DECISIONS])
    rumor_id = serializers.IntegerField(allow_null=True)
    effective_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True, help_text="Empty: not time-limited.")
    ended_at = serializers.DateTimeField(allow_null=True)
    appeal = serializers.ChoiceField(choices=["pending", "upheld", "overturned"], allow_null=True)
    identities_wanted = serializers.BooleanField(
        help_text="A blacklist or registration ban: link the holder's identity hashes (POST /blacklist/identities)."
    )


class SanctionFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in DECISIONS], required=False)


def _own_sanction(request: Request, sanction_id: str) -> Sanction:
    """The calling platform's decision with this id; anything else (another platform's, a mere
    recommendation, a malformed id) is the same 404."""
    valid = sanction_id.isascii() and sanction_id.isdecimal() and len(sanction_id) < 19
    sanction = platform_sanction(platform_id=request.auth.platform_id, sanction_id=int(sanction_id)) if valid else None
    if sanction is None:
        raise NotFound("No such sanction.")
    return sanction


class SanctionListView(LoggedListAPIView):
    """Decisions about the calling platform's accounts, oldest first: page with `cursor`."""

    serializer_class = SanctionOut
    pagination_class = FeedPagination

    def get_queryset(self) -> Any:
        filters = SanctionFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return platform_sanctions(
            platform_id=self.request.auth.platform_id, status=filters.validated_data.get("status")
        )

    @extend_schema(
        summary="Sanctions of your accounts, oldest first",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in DECISIONS])],
        responses={
            200: SanctionOut(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description='A bad `status`: `{"status": ["…"]}`.'),
            404: OpenApiResponse(ErrorSerializer, description="An invalid cursor."),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.log_items = len(page)
        return self.get_paginated_response([sanction_item(s) for s in page])


class SanctionDetailView(LoggedAPIView):
    @extend_schema(
        summary="One sanction of your accounts",
        parameters=[OpenApiParameter("sanction_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: SanctionOut, **NOT_FOUND, **ERROR_RESPONSES},
    )
    def get(self, request: Request, sanction_id: str) -> Response:
        return Response(sanction_item(_own_sanction(request, sanction_id)))


class AppealIn(serializers.Serializer):
    text = StrictCharField(max_length=5000, help_text="Why the decision should be reviewed (from the user).")


class SanctionAppealView(LoggedAPIView):
    @extend_schema(
        summary="Appeal a sanction for your user (once per sanction)",
        parameters=[OpenApiParameter("sanction_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=AppealIn,
        responses={200: SanctionOut, **BAD_INPUT, **NOT_FOUND, **ERROR_RESPONSES},
    )
    def post(self, request: Request, sanction_id: str) -> Response:
        sanction = _own_sanction(request, sanction_id)
        form = AppealIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            sanction = sanction_appeal_submit(
                sanction=sanction, platform=request.auth.platform, text=form.validated_data["text"]
            )
        except DjangoValidationError as exc:
            raise ApiValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        self.log_outcome = "appeal"
        return Response(sanction_item(sanction))


# --- blacklist ---------------------------------------------------------------------------------------------------


IDENTITY_HASHES = "HMAC-SHA256 (hex) of phone numbers or id numbers under the platforms' shared identity key."


class HashesIn(serializers.Serializer):
    hashes = serializers.ListField(
        child=StrictRegexField(HASH_PATTERN, min_length=64, max_length=64),
        min_length=1,
        max_length=MAX_HASHES,
        help_text=IDENTITY_HASHES,
    )


class CheckIn(serializers.Serializer):
    """The documented shape; the view validates by hand (one regex per hash), which is much faster. A hash that is
    not 64 hex characters (or not a string) gets its own error in the answer, as a bad item of a batch does, so
    the schema does not refuse it."""

    hashes = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_HASHES,
        help_text=IDENTITY_HASHES + " Each should be 64 hex characters; any other item gets its own `error`.",
    )


class CheckResult(serializers.Serializer):
    hash = serializers.CharField(allow_null=True, help_text="The hash as asked (lower-case).")
    banned = serializers.BooleanField(required=False)
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="Empty while banned: permanent.")
    reason_code = serializers.ChoiceField(
        choices=[Measure.BLACKLIST.value, Measure.REGISTRATION_BAN.value], required=False, allow_null=True
    )
    error = serializers.ListField(child=serializers.CharField(), required=False)


class CheckOut(serializers.Serializer):
    results = CheckResult(many=True, help_text="One per hash, in order; a malformed hash gets `error`.")


def _hashes(data: Any) -> list[Any]:
    hashes = data.get("hashes") if isinstance(data, dict) else None
    if not isinstance(hashes, list):
        raise ApiValidationError({"hashes": ["A list of identity hashes is required."]})
    if not 1 <= len(hashes) <= MAX_HASHES:
        raise ApiValidationError({"hashes": [f"Between 1 and {MAX_HASHES} hashes."]})
    return hashes


class BlacklistCheckView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]

    @extend_schema(
        summary="Check up to 1,000 identity hashes against the blacklist and the registration ban",
        description="`banned` when the identity is under a network-wide registration ban (any platform's "
        "decision) or on your own platform's blacklist, while the sanction is active.",
        request=CheckIn,
        responses={200: CheckOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        hashes = _hashes(request.data)
        valid = [h for h in hashes if is_identity_hash(h)]
        answers = identities_check(platform=request.auth.platform, hashes=valid) if valid else {}
        results = []
        for raw in hashes:
            if is_identity_hash(raw):
                key = raw.lower()
                results.append({"hash": key, **answers[key]})
            else:
                bad = raw if isinstance(raw, str) else None
                results.append({"hash": bad, "error": [gettext("Not a 64-hex hash.")]})
        self.log_items = len(hashes)
        self.log_outcome = f"banned:{sum(1 for r in results if r.get('banned'))}"
        return Response({"results": results})


class IdentitiesIn(HashesIn):
    sanction_id = StrictIntegerField(min_value=1, max_value=MAX_ID)


class IdentitiesOut(serializers.Serializer):
    linked = serializers.IntegerField(help_text="New links (a hash linked before is not counted again).")


class BlacklistIdentitiesView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]

    @extend_schema(
        summary="Link the identity hashes of a sanctioned account's holder to its blacklist or registration ban",
        request=IdentitiesIn,
        responses={
            200: IdentitiesOut,
            **BAD_INPUT,
            404: OpenApiResponse(ErrorSerializer, description="No such sanction of your accounts."),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        form = IdentitiesIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            linked = identities_link(
                platform=request.auth.platform,
                sanction_id=form.validated_data["sanction_id"],
                hashes=form.validated_data["hashes"],
            )
        except Sanction.DoesNotExist:
            raise NotFound("No such sanction.") from None
        except DjangoValidationError as exc:
            raise ApiValidationError(exc.message_dict) from exc
        self.log_items = len(form.validated_data["hashes"])
        return Response({"linked": linked})
