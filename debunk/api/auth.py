"""`Authorization: Api-Key dbk_…` authentication for the platforms' API, and its OpenAPI security scheme."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from debunk.api.keys import api_key_authenticate, api_key_touch
from debunk.api.models import ApiKey, Platform

KEYWORD = "Api-Key"


class ApiPrincipal:
    """`request.user` of an API request: the calling platform, not a Django user (it has no permissions)."""

    __slots__ = ("api_key", "platform")

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, platform: Platform, api_key: ApiKey) -> None:
        self.platform = platform
        self.api_key = api_key

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def __str__(self) -> str:
        return f"platform:{self.platform.code}"

    def __repr__(self) -> str:
        return f"<ApiPrincipal {self.platform.code} {self.api_key.display_prefix}>"


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates `Authorization: Api-Key <key>`.

    No header or another scheme: not authenticated (401 once a permission requires it); a malformed, unknown
    or revoked key: 401; a key of an inactive platform: 403.
    """

    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header: expected “Api-Key <key>”."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if key.is_revoked:
            raise exceptions.AuthenticationFailed(_("API key revoked"))
        if not key.platform.is_active:
            raise exceptions.PermissionDenied(_("This platform is inactive."))
        api_key_touch(key)
        return ApiPrincipal(key.platform, key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsPlatform(BasePermission):
    """The request was authenticated with a platform's API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key dbk_<prefix>_<secret>`; keys are issued per platform.",
        }
