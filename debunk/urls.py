from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from debunk.public import reporting, views
from debunk.public.feeds import ColumnAtomFeed, ColumnFeed
from debunk.public.sitemaps import SITEMAPS
from debunk.reports import verify_views

urlpatterns = [
    path("", views.home, name="home"),
    path("columns/", views.column_list, name="column-list"),
    path("columns/<slug:code>/", views.column, name="column"),
    path("rumors/<int:pk>/", views.rumor_detail, name="rumor-detail"),
    path("search/", views.search, name="search"),
    path("feeds/rss/", ColumnFeed(), name="feed-rss"),
    path("feeds/atom/", ColumnAtomFeed(), name="feed-atom"),
    path("feeds/rss/<slug:code>/", ColumnFeed(), name="column-feed-rss"),
    path("feeds/atom/<slug:code>/", ColumnAtomFeed(), name="column-feed-atom"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="django.contrib.sitemaps.views.sitemap"),
    path("reports/", views.report_list, name="report-list"),
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    path("reports/<int:pk>/csv", views.report_download, name="report-csv"),
    path("report/", reporting.report_form, name="report-form"),
    path("report/<int:pk>/receipt/", reporting.report_receipt, name="report-receipt"),
    path("report/<int:pk>/receipt.json", reporting.report_receipt_json, name="report-receipt-json"),
    path("report/verify/", reporting.report_verify, name="report-verify"),
    path("verify-claim/<str:token>/", verify_views.verify_claim, name="verify-claim"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("debunk.api.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
