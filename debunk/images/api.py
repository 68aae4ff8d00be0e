"""The platforms' API of image matching.

- The `image` field of the match and posts APIs: a picture given as plain base64 in JSON, or as a file in a
  multipart upload. It is checked and hashed while the request is validated (`services.query_image`), so a bad
  picture is a 400 with a field error before anything is matched or stored, and a link is never fetched.
- GET /api/v1/match/jobs/{id}: a match job of the calling platform (an answer that said `pending`); any other id
  is a 404.
"""

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.request_log import LoggedAPIView
from debunk.api.views import ERROR_RESPONSES, ErrorSerializer
from debunk.images.decode import ImageRejected, decode_base64
from debunk.images.jobs import match_job_item, platform_match_job
from debunk.images.models import MatchJob
from debunk.images.services import QueryImage, query_image

# What a platform is told, by the decoder's refusal code.
REFUSALS = {
    "bad_base64": _("The image is not valid base64."),
    "empty": _("The image is empty."),
    "data_url": _("Send the file's plain base64, without a “data:…;base64,” prefix."),
    "looks_like_a_url": _("This is a link, not an image: send the file itself. Links are never fetched."),
    "not_an_image": _("This file is not an image."),
    "too_large": _("The image is larger than %(bytes)s bytes."),
    "too_many_pixels": _("The image has more than %(pixels)s pixels."),
    "too_many_frames": _("The animation has too many frames."),
    "truncated": _("The image is damaged or truncated."),
    "unsupported_format": _("This image format is not accepted (accepted: JPEG, PNG, WebP, GIF, BMP)."),
}
IMAGE_HELP = (
    "The picture: in JSON the file's plain base64 (no `data:` prefix), in multipart/form-data a file field. "
    "JPEG, PNG, WebP, GIF (first frame) or BMP, at most 10 MB and 40 megapixels. Links are refused, never fetched."
)


def refusal_message(exc: ImageRejected) -> str:
    message = REFUSALS.get(exc.code)
    if message is None:  # a code added to the decoder later: its own English message
        return exc.message
    return str(message) % {"bytes": f"{settings.UPLOAD_MAX_BYTES:,}", "pixels": f"{settings.UPLOAD_MAX_PIXELS:,}"}


@extend_schema_field({"type": "string", "format": "byte", "minLength": 1})
class ImageField(serializers.Field):
    """A base64 string (JSON) or an uploaded file (multipart) → a checked, hashed `QueryImage`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", IMAGE_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> QueryImage:
        try:
            if isinstance(data, UploadedFile):
                content = data.read(settings.UPLOAD_MAX_BYTES + 1)
            elif isinstance(data, str):
                content = decode_base64(data, max_bytes=settings.UPLOAD_MAX_BYTES)
            else:
                raise ImageRejected("bad_base64", "The image must be a base64 string.")
            return query_image(content)
        except ImageRejected as exc:
            raise serializers.ValidationError(refusal_message(exc), code=exc.code) from None

    def to_representation(self, value: Any) -> Any:
        return None


@extend_schema_field({"type": "string", "format": "binary", "minLength": 1})
class ImageFileField(ImageField):
    """ImageField as a multipart body states it: a file part (which must carry a file name: a part without one is
    a form's empty file input, which browsers and Django treat as no file at all)."""


# --- match jobs ----------------------------------------------------------------------------------------------------


class MatchJobOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=MatchJob.Status.values,
        help_text="`pending` until every image was read and matched; `failed` after MATCH_JOB_MAX_ATTEMPTS attempts.",
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    results = serializers.ListField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="Once `done`: one per pending item of the request, in order, each the complete answer POST /match "
        "gives (`matched`, `action`, `matches`, `image`, `ocr_text`…) with the item's `id` (the batch item's, "
        "null for a single match). Null while pending and for a failed job. The same as the `match.completed` "
        "webhook's `data.results`.",
    )


JOB_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such match job of yours.")}


class MatchJobView(LoggedAPIView):
    """A match job of the calling platform: its status and, once done, its results (as the `match.completed`
    webhook sends them). Kept MATCH_JOB_RETENTION_DAYS after it finished."""

    @extend_schema(
        summary="A match job: the complete answer of a match that said `pending`",
        parameters=[OpenApiParameter("job_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: MatchJobOut, **JOB_NOT_FOUND, **ERROR_RESPONSES},
    )
    def get(self, request: Request, job_id: str) -> Response:
        valid = job_id.isascii() and job_id.isdecimal() and len(job_id) < 19
        job = platform_match_job(platform_id=request.auth.platform_id, job_id=int(job_id)) if valid else None
        if job is None:  # another platform's job answers as an unknown one
            raise NotFound(_("No such match job."))
        self.log_outcome = job.status
        return Response(match_job_item(job))
