"""How the admin shows a service's refusal: on the delete confirmation pages before the user confirms, and as a
message (never a 500) when a service refuses a save or delete the forms did not foresee."""

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.forms import ModelForm
from django.forms.models import construct_instance
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
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


class HistoryRevertThroughServices:
    """django-simple-history's revert page (history_form_view) as a change through the admin's save_model (a
    service). The posted form's fields are applied to the record as it is now, not to the old version the page
    shows: a revert changes the editable fields back, never the workflow's status, stamps or authors, and the
    service judges it by the record's current state. The POST needs the change permission (else 403), runs in one
    transaction, and a service's refusal (ValidationError or PermissionDenied) is a message on the page, never a
    500. Mix in before SimpleHistoryAdmin."""

    _REVERT_OF = "_debunk_history_revert_of"

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context=None
    ) -> HttpResponse:
        if request.method != "POST":
            return super().history_form_view(request, object_id, version_id, extra_context)
        current = self.get_object(request, unquote(object_id))
        if current is None:
            raise Http404  # a deleted record is not brought back from its history here
        if not self.has_change_history_permission(request):  # the record's own state: the service's to judge
            raise PermissionDenied
        setattr(request, self._REVERT_OF, current)
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().history_form_view(request, object_id, version_id, extra_context)
        except (ValidationError, PermissionDenied) as exc:  # rolled back: nothing was written
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_form(self, request: HttpRequest, form: ModelForm, change: bool) -> Any:
        current = getattr(request, self._REVERT_OF, None)
        obj = super().save_form(request, form, change)  # also readies form.save_m2m(), which the view calls
        if current is None:
            return obj
        return construct_instance(form, current, fields=form._meta.fields, exclude=form._meta.exclude)


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
