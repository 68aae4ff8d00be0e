"""POST /api/v1/posts and /api/v1/exposures: what a platform wants tracked and who saw it.

Both take batches; a bad item gets its own error and the rest are stored. User and author ids are
hashed before anything is stored or logged (debunk.core.pseudonyms). A post may carry an image (base64 in JSON,
`debunk.images.api.ImageField`: checked and hashed while the item is validated, so a bad picture is that item's
error and nothing of it is stored).
"""

from collections.abc import Callable
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictCharField, StrictChoiceField
from debunk.api.parsers import ImageJSONParser
from debunk.api.request_log import LoggedAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.api.views import ERROR_RESPONSES, not_an_object
from debunk.corrections.archive import PostReport, posts_ingest
from debunk.corrections.exposures import ExposureReport, exposures_record
from debunk.corrections.models import Interaction
from debunk.images.api import ImageField
from debunk.matching.api import BAD_INPUT, PostTextField, too_many_images

MAX_POSTS = 1_000
MAX_EXPOSURES = 10_000
INTERACTIONS = {i.name.lower(): i for i in Interaction}  # "repost", "share", "comment", "like", "view"
NO_NUL = RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")


def _ref(help_text: str, **kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=128, validators=[NO_NUL], help_text=help_text, **kwargs)


class PostIn(serializers.Serializer):
    platform_post_id = _ref("Your id of the post.")
    text = PostTextField(min_length=1, max_length=20_000, required=False, help_text="The post's text.")
    image = ImageField(required=False)
    author_ref = _ref("Your pseudonymous id of the author; stored only as a keyed hash.", required=False, default="")
    posted_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    parent_post_id = _ref("The post this one reposts, if any.", required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("text") and attrs.get("image") is None:
            message = gettext_lazy("Send a text, an image or both.")
            raise serializers.ValidationError({"text": [message]}, code="required")
        attrs.setdefault("text", "")
        return attrs


class ExposureIn(serializers.Serializer):
    platform_post_id = _ref("Your id of the post seen.")
    user_ref = _ref("Your pseudonymous id of the user; stored only as a keyed hash.")
    interaction = StrictChoiceField(choices=list(INTERACTIONS))
    at = serializers.DateTimeField()


def _items_field(maximum: int) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.JSONField(allow_null=True), allow_empty=False, min_length=1, max_length=maximum
    )


class PostsIn(serializers.Serializer):
    items = _items_field(MAX_POSTS)


class ExposuresIn(serializers.Serializer):
    items = _items_field(MAX_EXPOSURES)


def _validate_items(items: list[Any], checker: serializers.Serializer, key: Callable[[Any], Any]) -> tuple:
    """(per-item results with errors filled in, [(position, validated data)]) — one serializer for all items."""
    results: list[dict[str, Any] | None] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for raw in items:
        if not isinstance(raw, dict):
            results.append({"error": not_an_object()})
            continue
        try:
            data = checker.run_validation(raw)
        except (serializers.ValidationError, OverflowError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, serializers.ValidationError) else {"at": ["Out of range."]}
            results.append({**key(raw), "error": detail})
            continue
        valid.append((len(results), data))
        results.append(None)
    return results, valid


def _post_key(raw: dict) -> dict:
    ref = raw.get("platform_post_id")
    return {"platform_post_id": ref if isinstance(ref, str) else None}


class PostsView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]
    parser_classes = [ImageJSONParser]

    @extend_schema(
        summary="Report up to 1,000 posts for tracking; each is fingerprinted and matched on arrival",
        description="Idempotent per `platform_post_id` (a post keeps the first image given). Each item: "
        "`{platform_post_id, text?, image?, author_ref?, posted_at?, parent_post_id?}` with a text, an image "
        "(the file's plain base64) or both; at most MATCH_BATCH_MAX_IMAGES items (50 by default) may carry an image, "
        "and the body is at most API_IMAGE_BODY_MAX_BYTES (15 MB by default). An image is matched by its hash at "
        "once; without a confident hash match its text is read afterwards and matched (corrections follow). Results "
        "come in the order of the items: `{platform_post_id, created, matches: [{rumor_id, status}]}` or "
        "`{platform_post_id, error}`.",
        request=PostsIn,
        responses={200: OpenApiTypes.OBJECT, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        form = PostsIn(data=request.data)
        form.is_valid(raise_exception=True)
        too_many_images(form.validated_data["items"])
        results, valid = _validate_items(form.validated_data["items"], PostIn(), _post_key)
        outcomes = posts_ingest(
            platform=request.user.platform,
            reports=[
                PostReport(
                    d["platform_post_id"],
                    d["text"],
                    d["author_ref"],
                    d["posted_at"],
                    d["parent_post_id"],
                    image=d.get("image"),
                )
                for _, d in valid
            ],
        )
        for (position, _), outcome in zip(valid, outcomes, strict=True):
            results[position] = {
                "platform_post_id": outcome.platform_post_id,
                "created": outcome.created,
                "matches": outcome.matches,
            }
        self.log_items = len(results)
        self.log_outcome = f"posts:{len(valid)}/{len(results)}"
        return Response({"results": results})


class ExposuresView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]

    @extend_schema(
        summary="Report up to 10,000 exposures (who saw or interacted with which post)",
        description="Repeated reports are ignored. Exposures of posts not reported yet are kept and joined when "
        "the post arrives. `errors` lists the bad items by position; the others are stored.",
        request=ExposuresIn,
        responses={200: OpenApiTypes.OBJECT, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        form = ExposuresIn(data=request.data)
        form.is_valid(raise_exception=True)
        results, valid = _validate_items(form.validated_data["items"], ExposureIn(), _post_key)
        added = exposures_record(
            platform=request.user.platform,
            reports=[
                ExposureReport(d["platform_post_id"], d["user_ref"], INTERACTIONS[d["interaction"]], d["at"])
                for _, d in valid
            ],
        )
        errors = [{"index": i, **r} for i, r in enumerate(results) if r is not None]
        self.log_items = len(results)
        self.log_outcome = f"exposures:{len(valid)}/{len(results)}"
        return Response({"accepted": len(valid), "new": added, "errors": errors})
