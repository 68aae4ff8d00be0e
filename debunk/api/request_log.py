"""Request logging for the platforms' API: one ApiRequestLog row and one log line per request of an
authenticated platform, with its route, status, latency, outcome and item count, never its body.

API views inherit `LoggedAPIView` (or mix `RequestLogMixin` into a generic view before the DRF class) and may
set `self.log_outcome` (a short word, e.g. "match", "no_match") and `self.log_items` (e.g. posts in a batch).
A view whose answer comes with a write (the match views' suspected-match queue) hands it to
`self.write_with_log`: it then runs in the log row's transaction, one commit for the request.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, transaction
from django.http import HttpResponseBase
from rest_framework import generics
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from debunk.api.auth import ApiKeyAuthentication, ApiPrincipal, IsPlatform
from debunk.api.models import ApiKey, ApiRequestLog
from debunk.api.throttling import ApiKeyRateThrottle

logger = logging.getLogger("debunk.api")


def default_outcome(status_code: int) -> str:
    if status_code < 400:
        return "ok"
    if status_code == 400:
        return "invalid"
    if status_code in (401, 403):
        return "denied"
    if status_code == 404:
        return "not_found"
    if status_code == 429:
        return "throttled"
    return "client_error" if status_code < 500 else "server_error"


def route_of(request: Request) -> str:
    """The URL pattern that served the request (`/api/v1/logs`), or its path without the query string."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return ("/" + match.route.lstrip("^").rstrip("$"))[:200]
    return request.path[:200]


def request_log_write(
    *, request: Request, status_code: int, latency_ms: float, outcome: str = "", items: int = 0
) -> ApiRequestLog | None:
    """Record one request of an authenticated platform. Never raises: a failed write is logged, not returned."""
    try:
        key = request.auth  # authenticates now if the request failed before authentication (e.g. 406)
    except APIException:
        return None
    if not isinstance(key, ApiKey):
        return None
    outcome = (outcome or default_outcome(status_code))[:32]
    path = route_of(request)
    logger.info(
        "api platform=%s path=%s status=%d ms=%.1f outcome=%s",
        key.platform.code,
        path,
        status_code,
        latency_ms,
        outcome,
    )
    try:
        with transaction.atomic():
            return ApiRequestLog.objects.create(
                platform_id=key.platform_id,
                api_key_id=key.pk,
                method=request.method[:10],
                path=path,
                status_code=status_code,
                latency_ms=latency_ms,
                outcome=outcome,
                items=max(0, int(items)),
            )
    except DatabaseError:
        logger.exception("api request log not written: platform=%s path=%s", key.platform.code, path)
        return None


class RequestLogMixin:
    """Times each request from `initial` to `finalize_response` and logs it (see the module docstring)."""

    log_outcome: str = ""
    log_items: int = 0
    _log_started: float | None = None
    _log_done: bool = False
    _writes: list[Callable[[], object]]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._log_started = time.perf_counter()
        self.log_outcome, self.log_items, self._writes = "", 0, []
        super().initial(request, *args, **kwargs)
        if isinstance(request.user, ApiPrincipal):
            # DRF also sets the principal as the Django request's user, where django-simple-history would take
            # it for the author of any versioned write and fail (it is not a User). On Django's side: no user.
            request._request.user = AnonymousUser()

    def write_with_log(self, write: Callable[[], object]) -> None:
        """Run `write` when the answer is ready, in one transaction with the request's log row: one commit a
        request instead of two. Its errors propagate (the request fails); the log row's are only logged."""
        self._writes.append(write)

    def finalize_response(self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        writes, self._writes = getattr(self, "_writes", []), []
        if not writes or response.status_code >= 400:  # a failed request leaves nothing half done
            self._log(request, response.status_code)
            return response
        try:
            with transaction.atomic():
                for write in writes:
                    write()
                self._log(request, response.status_code)  # its own savepoint: a failed log row undoes nothing else
        except Exception:
            self._log_done = False  # the row went with the transaction, if it was written
            self._log(request, 500, "server_error")  # Django answers 500
            raise
        return response

    def handle_exception(self, exc: Exception) -> Any:
        try:
            return super().handle_exception(exc)
        except Exception:
            self._log(self.request, 500, "server_error")  # an unhandled error: Django answers 500
            raise

    def _log(self, request: Request, status_code: int, outcome: str = "") -> None:
        if self._log_done or not isinstance(request, Request):
            return
        self._log_done = True
        started = self._log_started if self._log_started is not None else time.perf_counter()
        try:
            request_log_write(
                request=request,
                status_code=status_code,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                outcome=outcome or self.log_outcome,
                items=self.log_items,
            )
        except Exception:  # logging must never turn an answer into a 500
            logger.exception("api request log failed")


class LoggedAPIView(RequestLogMixin, APIView):
    """Base view of the platforms' API: API-key authentication, per-key throttling, request logging."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsPlatform]
    throttle_classes = [ApiKeyRateThrottle]


class LoggedListAPIView(RequestLogMixin, generics.ListAPIView):
    """LoggedAPIView for cursor-paginated lists (see debunk.api.views.ApiCursorPagination)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsPlatform]
    throttle_classes = [ApiKeyRateThrottle]
