"""Builders and fixtures for the delivery tests: corrections created directly (as the fan-out would), an
endpoint, and a webhook sink (debunk/management/commands/webhook_sink.py) serving on 127.0.0.1 in a thread."""

import io
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.roles import operator_user
from debunk.corrections.models import Correction, Interaction
from debunk.management.commands.webhook_sink import Sink
from debunk.stock.models import Rumor
from debunk.webhooks.models import WebhookEndpoint
from debunk.webhooks.services import endpoint_create, secret_generate
from tests.factories import publish_rumor


def make_corrections(
    platform: Platform,
    rumor: Rumor,
    count: int,
    *,
    interaction: int = Interaction.VIEW,
    start: datetime | None = None,
    prefix: str = "u",
    **fields: Any,
) -> list[Correction]:
    """`count` pending corrections for users `{prefix}0…`, exposed one minute apart (the last most recent)."""
    start = start or timezone.now() - timedelta(days=1)
    return Correction.objects.bulk_create(
        Correction(
            platform=platform,
            rumor=rumor,
            user_hash=f"{prefix}{i:06d}".ljust(64, "0"),
            interaction=interaction,
            exposed_at=start + timedelta(minutes=i),
            **fields,
        )
        for i in range(count)
    )


class Receiver:
    """A running sink: its URL, what it received, and knobs to change its answers between attempts."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.url = f"http://127.0.0.1:{sink.server_address[1]}/hook"
        self.secret = ""

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.sink.received

    def answer(self, code: int, *, retry_after: int = 5, delay: float = 0.0) -> None:
        self.sink.respond, self.sink.retry_after, self.sink.delay = code, retry_after, delay


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def receiver(allow_private) -> Iterator[Receiver]:
    secret = secret_generate()
    sink = Sink(0, secret=secret, stdout=io.StringIO())
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    found = Receiver(sink)
    found.secret = secret
    yield found
    sink.shutdown()
    sink.server_close()
    thread.join(timeout=5)


@pytest.fixture
def rumor(checker, reviewer) -> Rumor:
    return publish_rumor(checker, reviewer)


@pytest.fixture
def endpoint(platform, receiver) -> WebhookEndpoint:
    return endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
