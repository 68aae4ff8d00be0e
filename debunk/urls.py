from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from debunk import views

admin.site.site_header = _("Debunk administration")
admin.site.site_title = _("Debunk")
admin.site.index_title = _("Rumor stock and classification standard")

urlpatterns = [
    path("", views.home, name="home"),
    path("rumors/<int:pk>/", views.rumor_detail, name="rumor-detail"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("debunk.api.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
