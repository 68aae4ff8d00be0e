"""Building published rumors with their own debunk texts, indexed as the product indexes them (on commit)."""

from typing import Any

from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from tests.factories import make_rumor


def publish(checker: Any, reviewer: Any, claim: str, title: str, body: str = "", **fields: Any) -> Rumor:
    rumor = make_rumor(checker, claim=claim, with_debunk=False, **fields)
    debunk_services.debunk_create(
        rumor=rumor, by=checker, title=title, summary=title[:100], body=body or title, language="zh-hans"
    )
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    return rumor
