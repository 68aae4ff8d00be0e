"""The platforms' API, mounted at /api/v1/. Views that platforms call inherit debunk.api.request_log.LoggedAPIView."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from debunk.api import views
from debunk.corrections import api as corrections
from debunk.corrections import intake
from debunk.images import api as images
from debunk.matching import api as match
from debunk.public import api as public
from debunk.reports import api as reports
from debunk.sanctions import api as sanctions
from debunk.warning import api as warning

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("ping", views.PingView.as_view(), name="ping"),
    path("logs", views.LogListView.as_view(), name="logs"),
    path("match", match.MatchView.as_view(), name="match"),
    path("match/batch", match.MatchBatchView.as_view(), name="match-batch"),
    path("match/jobs/<str:job_id>", images.MatchJobView.as_view(), name="match-job"),
    path("posts", intake.PostsView.as_view(), name="posts"),
    path("exposures", intake.ExposuresView.as_view(), name="exposures"),
    path("corrections", corrections.CorrectionFeedView.as_view(), name="corrections"),
    path("corrections/ack", corrections.CorrectionAckView.as_view(), name="corrections-ack"),
    path("search/cards", public.SearchCardsView.as_view(), name="search-cards"),
    path("rumors", public.RumorListView.as_view(), name="rumors"),
    path("rumors/<str:rumor_id>/card", public.RumorCardView.as_view(), name="rumor-card"),
    path("feed/claimreview", public.ClaimReviewFeedView.as_view(), name="feed-claimreview"),
    path("sanctions", sanctions.SanctionListView.as_view(), name="sanctions"),
    path("sanctions/<str:sanction_id>", sanctions.SanctionDetailView.as_view(), name="sanction"),
    path("sanctions/<str:sanction_id>/appeal", sanctions.SanctionAppealView.as_view(), name="sanction-appeal"),
    path("blacklist/check", sanctions.BlacklistCheckView.as_view(), name="blacklist-check"),
    path("reports", reports.ReportsView.as_view(), name="reports"),
    path("reports/verify", reports.ReceiptVerifyView.as_view(), name="reports-verify"),
    path("reports/key", reports.ReceiptKeyView.as_view(), name="reports-key"),
    path("reports/outcomes", reports.ReportOutcomesView.as_view(), name="reports-outcomes"),
    path("blacklist/identities", sanctions.BlacklistIdentitiesView.as_view(), name="blacklist-identities"),
    path("posts/matches", warning.PostMatchFeedView.as_view(), name="posts-matches"),
]
