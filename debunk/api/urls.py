"""The platforms' API, mounted at /api/v1/. Views that platforms call inherit debunk.api.request_log.LoggedAPIView."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from debunk.api import match, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("ping", views.PingView.as_view(), name="ping"),
    path("logs", views.LogListView.as_view(), name="logs"),
    path("match", match.MatchView.as_view(), name="match"),
    path("match/batch", match.MatchBatchView.as_view(), name="match-batch"),
]
