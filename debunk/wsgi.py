import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debunk.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402 (configured by the line above)

if settings.MATCH_WARM_UP_AT_START:
    # Each serving process (runserver, every gunicorn worker) loads the compiled matcher and its match index now,
    # so that its first match request is as fast as the next (compiling the kernels took ~20 s on a cold start).
    from django.urls import get_resolver

    from debunk.images.services import reader_warm_up
    from debunk.matching.serving import warm_up

    warm_up()
    reader_warm_up()
    get_resolver().url_patterns  # noqa: B018 (imports every view now, not during the first request)

if settings.GC_BETWEEN_REQUESTS:
    from debunk.core.gc_between_requests import install

    install()
