"""The project's URLs plus a few views built the way the match endpoints will be: on LoggedAPIView."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from debunk.api.request_log import LoggedAPIView
from debunk.api.throttling import ApiKeyBatchThrottle
from debunk.urls import urlpatterns as project_urlpatterns
from labels.models import Category


class EchoView(LoggedAPIView):
    """Reads a body of posts and reports how many, setting the logged outcome and item count."""

    def post(self, request: Request) -> Response:
        posts = request.data.get("posts", [])
        self.log_outcome = "echoed"
        self.log_items = len(posts)
        return Response({"count": len(posts)})


class BatchView(LoggedAPIView):
    throttle_classes = [ApiKeyBatchThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class TouchCategoryView(LoggedAPIView):
    """A versioned write (django-simple-history) made while a platform is the request's principal."""

    def post(self, request: Request) -> Response:
        category = Category.objects.order_by("pk").first()
        category.save()
        return Response({"platform": request.user.platform.code})


class BoomView(LoggedAPIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("boom")


urlpatterns = [
    path("api/v1/test/echo", EchoView.as_view()),
    path("api/v1/test/batch", BatchView.as_view()),
    path("api/v1/test/boom", BoomView.as_view()),
    path("api/v1/test/touch-category", TouchCategoryView.as_view()),
    *project_urlpatterns,
]
