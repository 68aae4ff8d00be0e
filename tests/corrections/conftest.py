"""The API fixtures (platform, key, client_for) for the corrections tests."""

from tests.api.conftest import clear_cache, client_for, key, platform  # noqa: F401 (pytest fixtures)
