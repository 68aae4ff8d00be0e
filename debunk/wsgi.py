import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debunk.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402 (configured by the line above)

if settings.GC_BETWEEN_REQUESTS:
    from debunk.core.gc_between_requests import install

    install()
