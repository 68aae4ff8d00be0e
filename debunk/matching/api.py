"""POST /api/v1/match and /api/v1/match/batch: is this post a known rumor, and what to do with it."""

import re
from typing import Any

import orjson
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.http import QueryDict
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.fields import StrictCharField, StrictChoiceField
from debunk.api.parsers import ImageBodyParsers, ImageJSONParser
from debunk.api.request_log import LoggedAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.api.views import ERROR_RESPONSES, not_an_object
from debunk.images.api import ImageField, ImageFileField
from debunk.images.jobs import match_jobs_attach
from debunk.matching.services import MatchRequest, match_many
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


OCR_MODES = ["now", "later", "off"]
OCR_HELP = (
    "With an image that no rumor image matches by its hash: read its text (OCR) `now` (within the server's budget, "
    "IMAGE_OCR_BUDGET_SECONDS; past it, as `later`), `later` (the answer says `pending` with a `job_id`; the result "
    "follows by the `match.completed` webhook and GET /api/v1/match/jobs/{id}) or `off`."
)


class MatchInput(serializers.Serializer):
    text = PostTextField(min_length=1, max_length=MAX_TEXT, required=False, help_text="The post's text.")
    image = ImageField(required=False)
    ocr = StrictChoiceField(choices=OCR_MODES, required=False, default="now", help_text=OCR_HELP)
    platform_post_id = StrictCharField(
        max_length=128,
        required=False,
        allow_blank=True,
        default="",
        validators=[RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")],  # stated in the schema
    )
    context = StrictChoiceField(choices=CONTEXTS, required=False, default="publish", help_text=CONTEXT_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("text") and attrs.get("image") is None:
            raise serializers.ValidationError({"text": [_("Send a text, an image or both.")]}, code="required")
        attrs.setdefault("text", "")
        return attrs


class SingleInput(MatchInput):
    lang = StrictChoiceField(choices=LANGS, required=False, help_text=LANG_HELP)


class SingleMultipartInput(SingleInput):
    image = ImageFileField(required=False)


class BatchItemInput(MatchInput):
    id = StrictCharField(max_length=128)
    ocr = StrictChoiceField(
        choices=OCR_MODES,
        required=False,
        default="later",
        help_text="As the single match's, but a batch never waits for OCR: `now` is read as `later`.",
    )


class BatchInput(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        allow_empty=False,
        min_length=1,
        max_length=MAX_BATCH,
        help_text="Each item as the single match's body, with an `id` of yours: `{id, text?, image?, "
        "platform_post_id?, context?, ocr?}`; a bad item gets its own `error`. At most MATCH_BATCH_MAX_IMAGES items "
        "(50 by default) may carry an image, and the body is at most API_IMAGE_BODY_MAX_BYTES (15 MB by default). "
        + CONTEXT_HELP,
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
    via = serializers.ChoiceField(
        choices=["text", "image_hash", "ocr"],
        help_text="What found it: the post's text, the image's perceptual hash, or the text read in the image "
        "(its `evidence` spans are then positions in the answer's `ocr_text`).",
    )
    stage = serializers.ChoiceField(
        choices=["near_duplicate", "claim", "semantic"],
        help_text="Which matcher found it: `near_duplicate` (a copy or light edit of the rumor's text, or its "
        "picture), `claim` (a rewording: the claim tier's character n-gram index; `score` and `terms` say why).",
    )
    distance = serializers.IntegerField(
        required=False, help_text="With `via` image_hash: bits of 256 between the PDQ hashes (0: the same picture)."
    )
    score = serializers.FloatField(
        required=False,
        help_text="With `stage` claim: the claim score, 0 to 1, that the verdict label's claim thresholds apply to.",
    )
    terms = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="With `stage` claim: the evidence, up to 5 distinctive character n-grams the post shares with the "
        "rumor's claim or a variant, most distinctive first.",
    )
    similarity = serializers.FloatField(
        help_text="Near-duplicate: Jaccard similarity of the character 3-gram sets. Claim stage: the claim score."
    )
    containment = serializers.FloatField(
        help_text="Near-duplicate: share of the rumor's 3-grams found in the post. Claim stage: the same share, "
        "each n-gram weighted by how rare it is (IDF)."
    )
    decision = serializers.ChoiceField(choices=["matched", "suspected"])
    verdict = VerdictOut()
    label_text = serializers.CharField()
    debunk = DebunkOut(allow_null=True)
    evidence = EvidenceOut(
        many=True,
        help_text="Near-duplicate: the runs of text the post shares with the rumor's claim. Empty for the claim "
        "stage (see `terms`) and for an image hash.",
    )


class ImageOut(serializers.Serializer):
    sha256 = serializers.CharField()
    pdq = serializers.CharField(help_text="PDQ hash, 64 hex digits.")
    quality = serializers.IntegerField(help_text="PDQ quality, 0 to 100 (under 50: not used to match).")


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
    image = ImageOut(required=False, help_text="With an image: what was computed of it.")
    pending = serializers.BooleanField(
        required=False,
        help_text="With an image: its text is still to be read; the complete answer (which may match more) follows "
        "by webhook and from GET /api/v1/match/jobs/{job_id}.",
    )
    job_id = serializers.IntegerField(required=False)
    ocr_text = serializers.CharField(required=False, help_text="With an image that was read: the text found in it.")
    ocr_ms = serializers.FloatField(required=False)
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
    if type(raw) is not dict or "image" in raw or "ocr" in raw:
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
    data = {"text": text, "platform_post_id": post_id, "context": context, "ocr": "later" if with_id else "now"}
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


def too_many_images(items: list[Any]) -> None:
    """A 400 for a batch with more than MATCH_BATCH_MAX_IMAGES items carrying an image (counted before any is
    decoded: each costs a decoding, and later an OCR)."""
    images = sum(1 for raw in items if type(raw) is dict and raw.get("image") is not None)
    if images > settings.MATCH_BATCH_MAX_IMAGES:
        message = _("At most %(n)s items of a batch may carry an image.") % {"n": settings.MATCH_BATCH_MAX_IMAGES}
        raise serializers.ValidationError({"items": [message]}, code="too_many_images")


def _request(data: dict[str, Any], *, batch: bool = False) -> MatchRequest:
    ocr = data.get("ocr", "later" if batch else "now")
    return MatchRequest(
        data["text"],
        data["context"],
        data["platform_post_id"],
        image=data.get("image"),
        ocr="later" if batch and ocr == "now" else ocr,
    )


class MatchView(LoggedAPIView):
    renderer_classes = [MatchJSONRenderer]
    parser_classes = ImageBodyParsers

    @extend_schema(
        summary="Match one post (its text, its image or both) against the rumor stock",
        request={"application/json": SingleInput, "multipart/form-data": SingleMultipartInput},
        responses={200: MatchOut, **BAD_INPUT, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if isinstance(body, QueryDict):  # multipart: one value per field, an empty one kept (as JSON's "")
            body = body.dict()
        data = _plain_item(body, with_id=False)
        if data is None or not _plain_lang(body):
            form = SingleInput(data=body)
            form.is_valid(raise_exception=True)
            data = form.validated_data
        lang = body.get("lang") or translation.get_language()
        requests = [_request(data)]
        with translation.override(lang):
            [result] = match_many(requests, platform=request.user.platform, defer=self.write_with_log)
        match_jobs_attach(platform=request.user.platform, requests=requests, results=[result], ids=[None], lang=lang)
        self.log_outcome, self.log_items = result["action"], 1
        return Response(result)


class MatchBatchView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]
    renderer_classes = [MatchJSONRenderer]
    parser_classes = [ImageJSONParser]

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
        too_many_images(items)
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
        lang = request.data.get("lang") or translation.get_language()
        requests = [_request(d, batch=True) for _, d in valid]
        with translation.override(lang):
            answers = match_many(requests, platform=request.user.platform, defer=self.write_with_log)
        match_jobs_attach(
            platform=request.user.platform,
            requests=requests,
            results=answers,
            ids=[d["id"] for _, d in valid],
            lang=lang,
        )
        for (position, data), answer in zip(valid, answers, strict=True):
            results[position] = {"id": data["id"], **answer}
        actions = {answer["action"] for answer in answers}
        self.log_items = len(results)
        self.log_outcome = "batch:" + ",".join(sorted(actions)) if actions else "batch:errors"
        return Response({"results": results})
