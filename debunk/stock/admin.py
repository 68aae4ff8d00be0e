"""The fact-checkers' admin: the rumor stock, its workflow buttons and the review queue.

Every write goes through the stock services (rumors, debunks, attachments), so the admin, the commands and the
API obey the same rules and leave the same audit events: the change forms, every inline row's add, change and
delete, the delete view and the changelist's "delete selected".
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from debunk.core.admin_bulk import apply_each
from debunk.core.admin_refusals import (
    DeleteRefusalsOnConfirmation,
    HistoryRevertThroughServices,
    ServiceRefusalsAsMessages,
)
from debunk.images.admin import ImageFingerprintInline
from debunk.matching.selectors import rumor_matches
from debunk.reports.admin_handover import hand_over_rumors
from debunk.stock import attachments as attachment_services
from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.forms import AttachmentForm, TransitionForm, VariantForm
from debunk.stock.models import Attachment, Debunk, DebunkSource, ReviewItem, Rumor, RumorSource, RumorVariant
from debunk.stock.selectors import review_queue

# The admin's buttons and bulk actions: labels only; what each step does, from where and who may make it is
# rumor_services.WORKFLOW (expiry is the scheduler's, not a button).
STEP_LABELS: dict[str, Any] = {
    "submit": _("Submit for review"),
    "publish": _("Publish"),
    "return": _("Return to draft"),
    "retract": _("Retract"),
    "reopen": _("Reopen as draft"),
}


MATCHED_POSTS_SHOWN = 20  # on a rumor's page; the match admin filtered by the rumor lists them all


def run_transition(name: str, rumor: Rumor, user: Any, reason: str = "") -> None:
    rumor_services.rumor_step(name=name, rumor=rumor, by=user, reason=reason)


class OverdueFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("overdue", _("overdue")), ("due", _("not yet due"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(status=Rumor.Status.IN_REVIEW, review_due_at__lt=now)
        if self.value() == "due":
            return queryset.filter(status=Rumor.Status.IN_REVIEW, review_due_at__gte=now)
        return queryset


class VariantInline(admin.TabularInline):
    model = RumorVariant
    form = VariantForm
    extra = 0


HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class SourceInline(admin.TabularInline):
    model = RumorSource
    extra = 0
    formfield_overrides = HTTPS_URLS


class DebunkFormSet(BaseInlineFormSet):
    """Refuses, as a form error, deleting the last debunk of a rumor that has been published."""

    def clean(self) -> None:
        super().clean()
        deleted = [form.instance.pk for form in self.deleted_forms if form.instance.pk]
        if deleted and self.instance.pk:
            debunk_services.debunks_check_removable(rumor=self.instance, debunk_ids=deleted)


class DebunkInline(admin.StackedInline):
    model = Debunk
    formset = DebunkFormSet
    extra = 0
    fields = ["title", "summary", "body", "language", "published_at"]
    readonly_fields = ["published_at"]
    show_change_link = True


class AttachmentFormSet(BaseInlineFormSet):
    """Refuses, as a form error, deleting evidence of a rumor that has been published."""

    def clean(self) -> None:
        super().clean()
        errors = []
        for form in self.deleted_forms:
            if form.instance.pk:
                try:
                    attachment_services.attachment_check_removable(form.instance)
                except ValidationError as exc:
                    errors.extend(f"{form.instance}: {message}" for message in exc.messages)
        if errors:
            raise ValidationError(errors)


class AttachmentInline(admin.TabularInline):
    model = Attachment
    form = AttachmentForm
    formset = AttachmentFormSet
    extra = 0
    fields = ["file", "role", "caption", "thumb", "kind", "size", "sha256"]
    readonly_fields = ["thumb", "kind", "size", "sha256"]

    @admin.display(description=_("preview"))
    def thumb(self, obj: Attachment) -> str:
        if obj.thumbnail:
            return format_html('<img src="{}" alt="" style="max-height:80px">', obj.thumbnail.url)
        return "—"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # evidence is immutable once stored: add a new one instead


def verdict_badge(rumor: Rumor) -> str:
    return format_html(
        '<span class="verdict-badge" style="background:{}">{}</span>', rumor.verdict.colour, rumor.verdict.text
    )


class RumorAdminBase(SimpleHistoryAdmin):
    list_select_related = ["verdict", "category", "origin_platform"]
    search_fields = ["claim", "variants__text", "external_id", "debunks__title"]
    list_per_page = 50

    @admin.display(description=_("verdict"), ordering="verdict__severity_rank")
    def verdict_display(self, obj: Rumor) -> str:
        return verdict_badge(obj)

    @admin.display(description=_("claim"), ordering="claim")
    def claim_short(self, obj: Rumor) -> str:
        return str(obj)

    @admin.display(description=_("review due at"), ordering="review_due_at")
    def deadline(self, obj: Rumor) -> str:
        if not obj.review_due_at:
            return "—"
        text = timezone.localtime(obj.review_due_at).strftime("%Y-%m-%d %H:%M")
        if obj.is_overdue:
            return format_html('<strong class="overdue" style="color:#c62828">{} ({})</strong>', text, _("overdue"))
        return text

    def _apply_bulk(self, request: HttpRequest, queryset: QuerySet, name: str, reason: str = "") -> None:
        done, failed = 0, []
        for rumor in queryset:
            try:
                run_transition(name, rumor, request.user, reason)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                failed.append(f"{rumor}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
        if done:
            self.message_user(
                request,
                _("%(action)s: %(n)d rumor(s).") % {"action": STEP_LABELS[name], "n": done},
                messages.SUCCESS,
            )
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    def _bulk_with_reason(self, request: HttpRequest, queryset: QuerySet, name: str) -> HttpResponse | None:
        form = TransitionForm(request.POST if "apply" in request.POST else None, reason_required=True)
        if form.is_valid():
            self._apply_bulk(request, queryset, name, form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/debunk/transition.html",
            {
                **self.admin_site.each_context(request),
                "title": STEP_LABELS[name],
                "form": form,
                "rumors": queryset,
                "action_name": f"{name}_selected",
                "opts": self.model._meta,
                "bulk": True,
            },
        )

    @admin.action(description=_("Submit selected rumors for review"), permissions=["submit"])
    def submit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_bulk(request, queryset, "submit")

    @admin.action(description=_("Publish selected rumors"), permissions=["review"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_bulk(request, queryset, "publish")

    @admin.action(description=_("Return selected rumors to draft…"), permissions=["review"])
    def return_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._bulk_with_reason(request, queryset, "return")

    @admin.action(description=_("Retract selected rumors…"), permissions=["review"])
    def retract_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._bulk_with_reason(request, queryset, "retract")

    def has_submit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.submit_rumor")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.review_rumor")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rumors are retracted, never deleted: the record and its audit trail stay


@admin.register(Rumor)
class RumorAdmin(ServiceRefusalsAsMessages, HistoryRevertThroughServices, RumorAdminBase):
    change_form_template = "admin/debunk/rumor/change_form.html"
    list_display = ["claim_short", "verdict_display", "category", "status", "severity", "deadline", "updated_at"]
    list_filter = ["status", OverdueFilter, "category", "verdict", "origin_platform", "severity"]
    actions = ["submit_selected", "publish_selected", "return_selected", "retract_selected", hand_over_rumors]
    inlines = [VariantInline, SourceInline, DebunkInline, AttachmentInline, ImageFingerprintInline]
    autocomplete_fields = []
    readonly_fields = [
        "status",
        "status_reason",
        "review_due_at",
        "submitted_at",
        "published_at",
        "created_at",
        "created_by",
        "updated_by",
        "submitted_by",
        "reviewed_by",
        "card_preview",
    ]
    fieldsets = [
        (None, {"fields": ["claim", ("category", "verdict", "severity")]}),
        (
            _("Provenance"),
            {"fields": [("first_seen_at", "origin_platform"), "verified_by", "valid_until", "external_id"]},
        ),
        (
            _("Workflow"),
            {
                "fields": [
                    ("status", "review_due_at"),
                    "status_reason",
                    ("created_by", "created_at"),
                    ("submitted_by", "submitted_at"),
                    ("reviewed_by", "published_at"),
                    "updated_by",
                ]
            },
        ),
        (_("Public card preview"), {"fields": ["card_preview"]}),
    ]

    @admin.display(description=_("card"))
    def card_preview(self, obj: Rumor) -> str:
        from django.template.loader import render_to_string

        if not obj.pk:
            return "—"
        return render_to_string("debunk/card.html", {"rumor": obj, "link": False})

    def has_change_permission(self, request: HttpRequest, obj: Rumor | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None:
            return True
        if obj.status in {Rumor.Status.RETRACTED, Rumor.Status.EXPIRED}:
            return False  # reopen first
        if obj.status == Rumor.Status.PUBLISHED:
            return request.user.has_perm("debunk.review_rumor")
        return True

    def save_model(self, request: HttpRequest, obj: Rumor, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in rumor_services.RUMOR_FIELDS if name in form.cleaned_data}
        if change:
            rumor_services.rumor_update(rumor=obj, by=request.user, **fields)
            return
        created = rumor_services.rumor_create(by=request.user, **fields)
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each inline row's add, change or delete goes through its service (rules, audit, index updates)."""
        user = request.user
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            if isinstance(obj, RumorVariant):
                rumor_services.variant_remove(variant=obj, by=user)
            elif isinstance(obj, RumorSource):
                rumor_services.source_remove(source=obj, by=user)
            elif isinstance(obj, Debunk):
                debunk_services.debunk_delete(debunk=obj, by=user)
            elif isinstance(obj, Attachment):
                attachment_services.attachment_remove(attachment=obj, by=user)
            else:
                raise TypeError(f"no service deletes {type(obj).__name__}")
        for obj in instances:
            if isinstance(obj, RumorVariant):
                if obj.pk is None:
                    rumor_services.variant_add(rumor=obj.rumor, by=user, text=obj.text)
                else:
                    rumor_services.variant_update(variant=obj, by=user, text=obj.text)
            elif isinstance(obj, RumorSource):
                if obj.pk is None:
                    rumor_services.source_add(
                        rumor=obj.rumor, by=user, url=obj.url, title=obj.title, seen_at=obj.seen_at
                    )
                else:
                    rumor_services.source_update(source=obj, by=user, url=obj.url, title=obj.title, seen_at=obj.seen_at)
            elif isinstance(obj, Debunk):
                debunk_services.debunk_save(debunk=obj, by=user)
            elif isinstance(obj, Attachment) and obj.pk is None:
                sub = next(f for f in formset.forms if f.instance is obj)
                attachment_services.attachment_add(
                    rumor=obj.rumor,
                    by=user,
                    upload=obj.file,
                    name=obj.file.name,
                    role=obj.role,
                    caption=obj.caption,
                    checked=sub.checked,
                )
            else:
                raise TypeError(f"no service saves {type(obj).__name__}")

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name="%s_%s_transition" % info,
            ),
        ] + super().get_urls()

    def available_transitions(self, request: HttpRequest, rumor: Rumor) -> list[tuple[str, Any]]:
        return [
            (name, STEP_LABELS[name])
            for name in rumor_services.steps_available(rumor=rumor, by=request.user)
            if name in STEP_LABELS
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Rumor | None = None,
    ) -> HttpResponse:
        context["transitions"] = self.available_transitions(request, obj) if obj else []
        if obj and request.user.has_perm("debunk.view_match"):
            context["matched_posts"] = rumor_matches(obj, limit=MATCHED_POSTS_SHOWN)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        rumor = get_object_or_404(Rumor, pk=object_id)
        if name not in STEP_LABELS or not request.user.has_perm(rumor_services.WORKFLOW[name].perm):
            raise PermissionDenied
        label = STEP_LABELS[name]
        form = TransitionForm(
            request.POST if request.method == "POST" else None, reason_required=rumor_services.WORKFLOW[name].reason
        )
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                run_transition(name, rumor, request.user, form.cleaned_data.get("reason", ""))
            except (ValidationError, PermissionDenied) as exc:
                errors = list(getattr(exc, "messages", [str(exc) or _("Not allowed.")]))
            else:
                self.message_user(request, _("%(action)s: done.") % {"action": label}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
        return TemplateResponse(
            request,
            "admin/debunk/transition.html",
            {
                **self.admin_site.each_context(request),
                "title": label,
                "form": form,
                "rumors": [rumor],
                "errors": errors,
                "opts": self.model._meta,
                "original": rumor,
                "bulk": False,
            },
            status=400 if errors else 200,
        )


@admin.register(ReviewItem)
class ReviewQueueAdmin(RumorAdminBase):
    """What reviewers work through: rumors in review, overdue first."""

    list_display = [
        "deadline",
        "claim_short",
        "verdict_display",
        "category",
        "severity",
        "submitted_by",
        "origin_platform",
        "card",
    ]
    list_display_links = ["claim_short"]
    list_filter = [OverdueFilter, "category", "verdict", "origin_platform", "severity"]
    actions = ["publish_selected", "return_selected"]
    ordering = ["review_due_at", "pk"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return review_queue()

    @admin.display(description=_("public card"))
    def card(self, obj: Rumor) -> str:
        debunk = obj.debunks.first()
        if debunk is None:
            return format_html('<em style="color:#c62828">{}</em>', _("No debunk article yet."))
        return format_html("<strong>{}</strong><br>{}", debunk.title, debunk.summary)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return HttpResponseRedirect(reverse("admin:debunk_rumor_change", args=[object_id]))

    # A rumor's history and its revert page are the rumor admin's (through rumor_update), never a second copy here
    # saving an old version as it was.
    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:debunk_rumor_history", args=[object_id]))

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context=None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:debunk_rumor_simple_history", args=[object_id, version_id]))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("debunk.view_rumor")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("debunk.review_rumor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.view_rumor")


def delete_selected_through_services(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    """The changelist's "delete selected": Django's confirmation page, then each row through the admin's
    delete_model (a service), a refused row getting its own message."""
    if not request.POST.get("post"):
        return delete_selected(model_admin, request, queryset)
    _objects, _counts, perms_needed, protected = model_admin.get_deleted_objects(queryset, request)
    if perms_needed or protected:
        return delete_selected(model_admin, request, queryset)  # Django's page saying what stops it
    done = apply_each(model_admin, request, list(queryset), lambda obj: model_admin.delete_model(request, obj))
    if done:
        model_admin.message_user(
            request, _("Deleted %(n)d %(items)s.") % {"n": done, "items": model_admin.opts.verbose_name_plural}
        )
    return None


delete_selected_through_services.allowed_permissions = ("delete",)
delete_selected_through_services.short_description = delete_selected.short_description


class DebunkSourceInline(admin.TabularInline):
    model = DebunkSource
    extra = 0
    formfield_overrides = HTTPS_URLS


@admin.register(Debunk)
class DebunkAdmin(
    DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, HistoryRevertThroughServices, SimpleHistoryAdmin
):
    list_display = ["title", "rumor", "language", "published_at"]
    list_filter = ["language", "rumor__category", "rumor__verdict"]
    search_fields = ["title", "summary", "body", "rumor__claim"]
    list_select_related = ["rumor"]
    readonly_fields = ["rumor", "published_at"]
    inlines = [DebunkSourceInline]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                delete_selected_through_services,
                "delete_selected",
                delete_selected.short_description,
            )
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # debunks are added from their rumor's page

    def delete_refusals(self, objs: list[Debunk]) -> list[str]:
        """The confirmation page says so when the selection holds the last debunk(s) of a published rumor."""
        by_rumor: dict[int, list[Debunk]] = {}
        for debunk in objs:
            by_rumor.setdefault(debunk.rumor_id, []).append(debunk)
        refusals = []
        for debunks in by_rumor.values():
            rumor = debunks[0].rumor
            try:
                debunk_services.debunks_check_removable(rumor=rumor, debunk_ids=[d.pk for d in debunks])
            except ValidationError as exc:
                refusals.extend(f"{rumor}: {message}" if len(objs) > 1 else message for message in exc.messages)
        return refusals

    def save_model(self, request: HttpRequest, obj: Debunk, form: Any, change: bool) -> None:
        debunk_services.debunk_save(debunk=obj, by=request.user)

    def delete_model(self, request: HttpRequest, obj: Debunk) -> None:
        debunk_services.debunk_delete(debunk=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda obj: self.delete_model(request, obj))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances = formset.save(commit=False)  # lists the deleted rows too, without deleting them
        for obj in formset.deleted_objects:
            debunk_services.debunk_source_remove(source=obj, by=request.user)
        for obj in instances:
            if obj.pk is None:
                debunk_services.debunk_source_add(debunk=obj.debunk, by=request.user, title=obj.title, url=obj.url)
            else:
                debunk_services.debunk_source_update(source=obj, by=request.user, title=obj.title, url=obj.url)
