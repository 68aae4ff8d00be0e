"""How the admin shows a service's refusal: on the delete confirmation pages before the user confirms, and as a
message (never a 500) when a service refuses a save or delete the forms did not foresee."""

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from debunk.core.admin_bulk import error_text


class ServiceRefusalsAsMessages:
    """A service that refuses a write the forms did not foresee rolls the whole admin save (or delete) back and
    says why, instead of a 500 or a half-written record. Mix in before admin.ModelAdmin."""

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:  # raised inside the view's transaction: nothing was written
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id]))


class DeleteRefusalsOnConfirmation:
    """The delete confirmation pages (one object, and "delete selected") say why a service would refuse the
    delete, the way Django shows protected objects: no "Yes" button, and a posted confirmation deletes nothing.
    Subclasses give the reasons with `delete_refusals` (the service's own check). Mix in before admin.ModelAdmin."""

    delete_confirmation_template = "admin/delete_confirmation_refusals.html"
    delete_selected_confirmation_template = "admin/delete_selected_confirmation_refusals.html"

    def delete_refusals(self, objs: list[Any]) -> list[str]:
        """Why the service would refuse deleting these objects together (empty: it would not)."""
        return []

    def get_deleted_objects(self, objs: Iterable[Any], request: HttpRequest) -> tuple[Any, Any, Any, list]:
        objs = list(objs)
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        refusals = self.delete_refusals(objs)
        if refusals:  # the service's reasons say what refers to the objects: they replace Django's lists
            return deleted, counts, set(), refusals
        return deleted, counts, perms_needed, protected


def refusals_of(check: Any, objs: Iterable[Any], label: bool) -> list[str]:
    """The messages of `check(obj)` (a service's ValidationError) for each object, prefixed by the object when
    several are deleted at once."""
    found = []
    for obj in objs:
        try:
            check(obj)
        except ValidationError as exc:
            found.extend(f"{obj}: {message}" if label else message for message in exc.messages)
    return found
