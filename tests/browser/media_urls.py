"""The site's URLs plus MEDIA_ROOT served under /media/, standing in for the web server that serves the stock's
attachments in production (the test run has DEBUG off, so the site's own DEBUG route is not there). Posts' pictures
are never linked under it: the admin streams them itself."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import re_path
from django.views.static import serve

from debunk.urls import urlpatterns as site


def media(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, document_root=settings.MEDIA_ROOT)  # read per request: tests move MEDIA_ROOT


urlpatterns = [*site, re_path(r"^media/(?P<path>.*)$", media)]
