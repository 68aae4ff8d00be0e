"""POST /api/v1/match and /api/v1/match/batch: is this post a known rumor, and what to do with it."""

import re
from typing import Any

import orjson
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictCharField, StrictChoiceField
from debunk.api.request_log import LoggedAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.api.views import ERROR_RESPONSES, not_an_object
from debunk.matching.services import MatchRequest, match_many, match_text
from debunk.public.api import CardOut

MAX_TEXT = 20_000
MAX_BATCH = 1_000
CONTEXTS = ["publish", "compose", "comment", "search"]
CONTEXT_HELP = (
    "Where the text is. `publish` (default): a post being published. `compose`: an author is still writing it; "
    "a match adds `warning`, worded for the verdict label in the request's language. `comment`: a post whose "
    "comment section is shown; the answer adds `card`, the debunk card to pin at the top of the comments (null "
    "without a confirmed match). `search`: the text is a search query; the answer adds `cards`, the debunk cards "
    "to show above the platform's own results (as GET /search/cards, on the first 200 characters)."
)
LANGS = [code for code, _name in settings.LANGUAGES]  # zh-hans, en
LANG_HELP = "Language of the answer's texts (warning, verdict text); default: the Accept-Language header."


class PostTextField(StrictCharField):
    """A post's text: any characters (NUL included: normalisation drops control characters), but not blank.

    The non-blank rule is a pattern, so the OpenAPI schema states it and clients can rely on it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]
        self.validators.append(RegexValidator(r"\S", "This field may not be blank.", code="blank"))


class MatchInput(serializers.Serializer):
    text = PostTextField(min_length=1, max_length=MAX_TEXT)
    platform_post_id = StrictCharField(
        max_length=128,
        required=False,
        allow_blank=True,
        default="",
        validators=[RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")],  # stated in the schema
    )
    context = StrictChoiceField(choices=CONTEXTS, required=False, default="publish", help_text=CONTEXT_HELP)


class SingleInput(MatchInput):
    lang = StrictChoiceField(choices=LANGS, required=False, help_text=LANG_HELP)


class BatchItemInput(MatchInput):
    id = StrictCharField(max_length=128)


class BatchInput(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        allow_empty=False,
        min_length=1,
        max_length=MAX_BATCH,
        help_text="Each item as the single match's body, with an `id` of yours: `{id, text, platform_post_id?, "
        "context?}`; a bad item gets its own `error`. " + CONTEXT_HELP,
    )
    lang = StrictChoiceField(choices=LANGS, required=False, help_text=LANG_HELP + " For every item.")


class VerdictOut(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class DebunkOut(serializers.Serializer):
    title = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField()


class EvidenceOut(serializers.Serializer):
    post_span = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2)
    rumor_span = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2)


class MatchItemOut(serializers.Serializer):
    rumor_id = serializers.IntegerField()
    similarity = serializers.FloatField()
    containment = serializers.FloatField()
    decision = serializers.ChoiceField(choices=["matched", "suspected"])
    verdict = VerdictOut()
    label_text = serializers.CharField()
    debunk = DebunkOut(allow_null=True)
    evidence = EvidenceOut(many=True)


class WarningOut(serializers.Serializer):
    text = serializers.CharField()
    rumor_id = serializers.IntegerField()


class MatchOut(serializers.Serializer):
    matched = serializers.BooleanField()
    action = serializers.ChoiceField(choices=["block", "label", "review", "allow"])
    matches = MatchItemOut(many=True)
    warning = WarningOut(
        required=False,
        help_text="With context `compose` and a match whose action is not `allow`: a warning for the author, "
        "worded for the verdict label, in the request's language.",
    )
    card = CardOut(
        required=False,
        allow_null=True,
        help_text="With context `comment`: the debunk card to pin at the top of the comments (the leading match at "
        "or above the auto threshold), or null.",
    )
    cards = CardOut(many=True, required=False, help_text="With context `search`: debunk cards for the query.")
    index_version = serializers.IntegerField()
    took_ms = serializers.FloatField()


class BatchResultOut(MatchOut):
    id = serializers.CharField()


class BatchOut(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One per item, in order: a match result with the item's `id`, or `{id, error: {field: [msg]}}`.",
    )


_SURROGATE_OR_NUL = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_BLANK = re.compile(r"\S")


def _plain_item(raw: Any, *, with_id: bool) -> dict[str, Any] | None:
    """The validated data of an item that is plainly valid (strings of the right lengths, nothing DRF would trim,
    coerce or refuse), as MatchInput / BatchItemInput would return it; None leaves the item to the serializer, which
    then answers exactly as before (errors included). The serializers cost far more than matching a post."""
    if type(raw) is not dict:
        return None
    text = raw.get("text")
    post_id = raw.get("platform_post_id", "")
    context = raw.get("context", "publish")
    if (
        type(text) is not str
        or not 0 < len(text) <= MAX_TEXT
        or _NOT_BLANK.search(text) is None
        or _SURROGATE.search(text) is not None
        or type(post_id) is not str
        or len(post_id) > 128
        or post_id.strip() != post_id
        or _SURROGATE_OR_NUL.search(post_id) is not None
        or type(context) is not str
        or context not in CONTEXTS
    ):
        return None
    data = {"text": text, "platform_post_id": post_id, "context": context}
    if with_id:
        item_id = raw.get("id")
        if (
            type(item_id) is not str
            or not 0 < len(item_id) <= 128
            or item_id.strip() != item_id
            or _SURROGATE_OR_NUL.search(item_id) is not None
        ):
            return None
        data["id"] = item_id
    return data


def _plain_lang(data: Any) -> bool:
    """No `lang` in the body, or one of LANGS (else the serializer answers)."""
    return type(data) is not dict or "lang" not in data or (type(data["lang"]) is str and data["lang"] in LANGS)


class MatchJSONRenderer(JSONRenderer):
    """JSONRenderer's output, made by orjson (a batch answer is tens of kilobytes: json.dumps took about a tenth of
    the request). Whatever orjson would write differently goes through JSONRenderer: an indent asked for, non-compact
    or ASCII-only settings, U+2028/U+2029 (which JSONRenderer escapes), a value orjson refuses. The one difference
    left is the spelling of floats under 1e-4 or from 1e16 on (1e-5 for 1e-05), which these answers never hold
    (similarities are rounded to 4 places, took_ms to 3): the same numbers either way."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if (
            data is not None
            and self.compact
            and not self.ensure_ascii
            and self.get_indent(accepted_media_type, renderer_context or {}) is None
        ):
            try:
                out = orjson.dumps(data, default=self.encoder_class().default)
            except TypeError:  # orjson.JSONEncodeError is a TypeError
                pass
            else:
                if b"\xe2\x80\xa8" not in out and b"\xe2\x80\xa9" not in out:
                    return out
        return super().render(data, accepted_media_type, renderer_context)


BAD_INPUT = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="Field errors: `{field: [message]}`.")}


class MatchView(LoggedAPIView):
    renderer_classes = [MatchJSONRenderer]

    @extend_schema(
        summary="Match one post against the rumor stock",
        request=SingleInput,
        responses={200: MatchOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = _plain_item(request.data, with_id=False)
        if data is None or not _plain_lang(request.data):
            form = SingleInput(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
        with translation.override(request.data.get("lang") or translation.get_language()):
            result = match_text(
                text=data["text"],
                platform=request.user.platform,
                context=data["context"],
                platform_post_id=data["platform_post_id"],
                defer=self.write_with_log,
            )
        self.log_outcome, self.log_items = result["action"], 1
        return Response(result)


class MatchBatchView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]
    renderer_classes = [MatchJSONRenderer]

    @extend_schema(
        summary="Match up to 1,000 posts; a bad item gets its own error",
        request=BatchInput,
        responses={200: BatchOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        items = request.data.get("items") if type(request.data) is dict else None
        # else BatchInput would pass them as they are
        if type(items) is not list or not 1 <= len(items) <= MAX_BATCH or not _plain_lang(request.data):
            form = BatchInput(data=request.data)
            form.is_valid(raise_exception=True)
            items = form.validated_data["items"]
        results: list[dict[str, Any] | None] = []
        valid: list[tuple[int, dict[str, Any]]] = []
        checker = None  # one serializer validates every item that is not plainly valid: building it is costly
        for raw in items:
            if not isinstance(raw, dict):
                results.append({"id": None, "error": not_an_object()})
                continue
            data = _plain_item(raw, with_id=True)
            if data is None:
                checker = checker or BatchItemInput()
                try:
                    data = checker.run_validation(raw)
                except serializers.ValidationError as exc:
                    item_id = raw.get("id") if isinstance(raw.get("id"), str) else None
                    results.append({"id": item_id, "error": exc.detail})
                    continue
            valid.append((len(results), data))
            results.append(None)
        with translation.override(request.data.get("lang") or translation.get_language()):
            answers = match_many(
                [MatchRequest(d["text"], d["context"], d["platform_post_id"]) for _, d in valid],
                platform=request.user.platform,
                defer=self.write_with_log,
            )
        for (position, data), answer in zip(valid, answers, strict=True):
            results[position] = {"id": data["id"], **answer}
        actions = {answer["action"] for answer in answers}
        self.log_items = len(results)
        self.log_outcome = "batch:" + ",".join(sorted(actions)) if actions else "batch:errors"
        return Response({"results": results})
