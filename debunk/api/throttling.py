"""Per-key rate limits. The rate is read from settings on every request (API_THROTTLE_RATE, or
API_BATCH_THROTTLE_RATE for views that use `ApiKeyBatchThrottle`), so it can be changed without touching DRF's
class-level rate cache.

DRF's SimpleRateThrottle keeps a list of every request's timestamp in the cache; at 12000/min that is a
12000-element list pickled in and out of the cache on every request. These throttles keep one counter per key
and fixed window instead (one cache `add` or `incr` a request). The cost: a client can spend its budget at the
end of one window and again at the start of the next.
"""

import math
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from debunk.api.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api"
    rate_setting = "API_THROTTLE_RATE"

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None  # only platforms are throttled here; unauthenticated requests are refused anyway
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        counter = f"{self.key}:{window}"
        if self.cache.add(counter, 1, self.duration + 1):
            return True
        try:
            count = self.cache.incr(counter)
        except ValueError:  # the counter expired between add and incr
            self.cache.add(counter, 1, self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the window ends (whole seconds, at least 1, as Retry-After needs)."""
        return max(1, math.ceil(self.window_end - self.now))


class ApiKeyBatchThrottle(ApiKeyRateThrottle):
    """A separate budget for batch endpoints: `throttle_classes = [ApiKeyBatchThrottle]`."""

    scope = "api_batch"
    rate_setting = "API_BATCH_THROTTLE_RATE"


class ClientIpThrottle(ApiKeyRateThrottle):
    """Per client IP address (REMOTE_ADDR, or X-Forwarded-For behind API_NUM_PROXIES proxies), for the endpoints
    that need no key; a request made with a key is left to the key's throttle."""

    scope = "api_anon"
    rate_setting = "API_ANON_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request) or "-"}
