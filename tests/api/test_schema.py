"""The OpenAPI schema describes the API and its Api-Key security scheme."""

import pytest

from tests.api.conftest import api_client


@pytest.fixture
def schema(db):
    response = api_client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_openapi_3_with_the_api_key_scheme(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Api-Key dbk_<prefix>_<secret>`; keys are issued per platform.",
    }
    for path in ("/api/v1/ping", "/api/v1/logs"):
        assert schema["paths"][path]["get"]["security"] == [{"ApiKeyAuth": []}]
        assert {"401", "403", "429"} <= set(schema["paths"][path]["get"]["responses"])


def test_schema_lists_only_the_api(schema):
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert "/api/v1/schema/" not in schema["paths"]


def test_docs_page(db):
    response = api_client().get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
