"""OpenAPI schema adjustments drf-spectacular cannot infer from the serializers."""

from typing import Any

# Components whose body needs a text, an image or both (the serializer's `validate` says so at run time).
TEXT_OR_IMAGE = ["SingleInput", "SingleMultipartInput"]


def text_or_image(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """State "at least one of `text` and `image`" in the schema, so that clients (and the fuzzer) know an empty
    body is invalid."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in TEXT_OR_IMAGE:
        if name in schemas:
            schemas[name]["anyOf"] = [{"required": ["text"]}, {"required": ["image"]}]
    return result
