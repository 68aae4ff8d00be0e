"""Request body parsers with a size limit of their own.

DRF hands a `JSONParser` (or a subclass) `request.body`, where Django refuses anything over
DATA_UPLOAD_MAX_MEMORY_SIZE with a SuspiciousOperation (a bare 400 page, not the API's JSON errors), and one
setting cannot give the image endpoints a larger limit than the others. These parsers read the request stream
themselves: a body whose Content-Length passes the view's limit is refused with a JSON 413 before any of it is
read, and a stream is never read past the limit. Every API view gets DATA_UPLOAD_MAX_MEMORY_SIZE; the views that
take images (`ImageBodyParsers`: /match, /match/batch, /posts) allow API_IMAGE_BODY_MAX_BYTES.
"""

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers, renderers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import get_encoding
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant as json_strict_constant


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def _limit_setting() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _image_limit_setting() -> int:
    return settings.API_IMAGE_BODY_MAX_BYTES


def check_length(parser_context: dict[str, Any] | None, limit: int) -> None:
    """Refuse a body whose declared length passes the limit, before reading any of it."""
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {})
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge(_("The request body is larger than %(limit)s bytes.") % {"limit": f"{limit:,}"})


def read_limited(stream: Any, limit: int) -> bytes:
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise BodyTooLarge(_("The request body is larger than %(limit)s bytes.") % {"limit": f"{limit:,}"})
    return data


class LimitedJSONParser(parsers.BaseParser):
    """DRF's JSONParser (same media type, encoding and strictness), reading at most the view's limit."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = api_settings.STRICT_JSON
    limit = staticmethod(_limit_setting)

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = self.limit()
        check_length(parser_context, limit)
        data = read_limited(stream, limit)
        try:
            text = data.decode(get_encoding(parser_context or {}))
            return json.loads(text, parse_constant=json_strict_constant if self.strict else None)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # nested deeper than the interpreter's stack: a 400, not a 500
            raise ParseError("JSON parse error - nested too deeply.") from None


class ImageJSONParser(LimitedJSONParser):
    limit = staticmethod(_image_limit_setting)


class ImageMultiPartParser(parsers.MultiPartParser):
    """multipart/form-data with an `image` file field (its size is checked again by the image decoder)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        check_length(parser_context, _image_limit_setting())
        return super().parse(stream, media_type, parser_context)


ImageBodyParsers = [ImageJSONParser, ImageMultiPartParser]
