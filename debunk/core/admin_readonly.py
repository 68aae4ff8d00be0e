from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the software writes (audit trail, request log, matches): viewable, never added, edited or deleted
    through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AddThenReadOnlyMixin:
    """Records made through a short add form (`add_fields`) and only shown afterwards (`readonly_fields`): API keys,
    webhook endpoints, sanction recommendations. Mix in before admin.ModelAdmin."""

    add_fields: Sequence[str] = ()
    readonly_fields: Sequence[str] = ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.add_fields) if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else list(self.readonly_fields)
