"""Request fields that hold JSON bodies to the types the OpenAPI schema states.

DRF coerces by default: a CharField takes `5` as "5", an IntegerField takes "5" as 5, a ChoiceField compares
`str(value)`. A platform sending `{"text": 5}` has a bug worth a 400, not a match of the text "5". These fields
refuse any other JSON type with DRF's own messages (translated); query-string parameters, always strings, keep
DRF's fields.
"""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A JSON string only: numbers, booleans, lists and objects are "Not a valid string."."""

    def to_internal_value(self, data: Any) -> str:
        if type(data) is not str:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    default_error_messages = {"not_a_string": serializers.CharField.default_error_messages["invalid"]}

    def to_internal_value(self, data: Any) -> str:
        if type(data) is not str:
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (`5`, or `5.0`, which JSON Schema counts as one): not "5", not true."""

    def to_internal_value(self, data: Any) -> int:
        if type(data) is float and data.is_integer():
            data = int(data)
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the (string) choices, as a JSON string: `5` is not "5"."""

    def to_internal_value(self, data: Any) -> Any:
        if type(data) is not str:
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only: not "true", not 1."""

    def to_internal_value(self, data: Any) -> bool:
        if type(data) is not bool:
            self.fail("invalid", input=data)
        return data
