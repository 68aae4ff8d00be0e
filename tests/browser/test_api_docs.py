"""The API docs page works offline: Swagger UI is served by the site itself and renders the schema."""

import pytest

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_the_schema(page, live_server, transactional_db, screenshot):
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/match" in p.replace("\u200b", "") for p in paths), paths
    assert "Debunk platform API" in page.inner_text("body")
    screenshot("api-docs")
    assert page.console_errors == []
