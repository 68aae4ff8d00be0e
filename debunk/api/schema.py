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
    # a body is required too (drf-spectacular marks it optional when every field is): a request without one is a 400
    refs = {f"#/components/schemas/{name}" for name in TEXT_OR_IMAGE}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            contents = (body or {}).get("content", {}).values()
            if any(c.get("schema", {}).get("$ref") in refs for c in contents):
                body["required"] = True
    return result
