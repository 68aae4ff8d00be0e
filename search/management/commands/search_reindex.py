import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from debunk.stock.selectors import public_rumors
from search.backends import SearchUnavailable, get_backend
from search.services import search_rebuild


class Command(BaseCommand):
    help = "Rebuild the search index from every live rumor (the old index keeps serving until the new one is ready)."

    def handle(self, *args, **opts) -> None:
        expected = public_rumors().count()
        started = time.perf_counter()
        try:
            with tqdm(total=expected, desc="search_reindex", unit="rumor") as bar:
                written = search_rebuild(progress=bar.update)
        except SearchUnavailable as exc:
            raise CommandError(_("The search engine is unavailable: %(error)s") % {"error": exc}) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(
            _("Indexed %(written)d live rumors with %(backend)s in %(seconds).1f s; the index holds %(count)d.")
            % {
                "written": written,
                "backend": settings.SEARCH_BACKEND.rsplit(".", 1)[-1],
                "seconds": seconds,
                "count": get_backend().count(),
            }
        )
