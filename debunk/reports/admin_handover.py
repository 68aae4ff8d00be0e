"""The admin of verification requests and hand-overs.

- Verification requests: reviewers ask from a rumor's page ("Ask for verification"), see every request with its
  deadline (overdue in red, a filter) and cancel one; a verifier (the narrow "verifier" role) sees only the
  requests addressed to it and answers them on the request's page.
- Hand-overs: made by the "Hand over to a department" action of the lead and rumor change lists (an intermediate
  form asks for the department); their page shows the record and the package (downloaded by staff holding
  `hand_over`, never served publicly) and takes the status and follow-up, through the service.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from debunk.core.roles import require_perm
from debunk.reports import handover as handover_services
from debunk.reports import verification as verification_services
from debunk.reports.models import Handover, VerificationRequest
from debunk.stock.models import Rumor

VR = VerificationRequest


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- verification requests ------------------------------------------------------------------------------------------


class DueFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("overdue", _("overdue")), ("not_due", _("not yet due"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "overdue":
            return queryset.filter(status=VR.Status.OPEN, due_at__lt=timezone.now())
        if self.value() == "not_due":
            return queryset.filter(status=VR.Status.OPEN, due_at__gte=timezone.now())
        return queryset


def due_display(obj: VerificationRequest) -> str:
    text = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
    if obj.is_overdue:
        return format_html('<strong class="overdue" style="color:#c62828">{} ({})</strong>', text, _("overdue"))
    return text


class AskForm(forms.Form):
    verifier = forms.ModelChoiceField(
        label=_("verifier account"),
        queryset=None,
        required=False,
        help_text=_("An account with the verifier role; or give an e-mail address below."),
    )
    verifier_email = forms.EmailField(
        label=_("verifier e-mail"), required=False, help_text=_("Gets a one-time answer link.")
    )
    verifier_name = forms.CharField(label=_("department or expert"), max_length=200)
    question = forms.CharField(label=_("question"), widget=forms.Textarea(attrs={"rows": 4}))
    due_at = forms.DateTimeField(label=_("due at"), help_text=_("e.g. 2030-01-31 18:00"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model
        from django.db.models import Q

        perm = Q(groups__permissions__codename="answer_verification") | Q(
            user_permissions__codename="answer_verification"
        )
        self.fields["verifier"].queryset = get_user_model().objects.filter(perm, is_active=True).distinct()


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(label=_("answer"), choices=VR.Answer.choices, widget=forms.RadioSelect)
    answer_text = forms.CharField(label=_("explanation"), widget=forms.Textarea(attrs={"rows": 5}))


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(VerificationRequest)
class VerificationRequestAdmin(admin.ModelAdmin):
    change_form_template = "admin/debunk/verificationrequest/change_form.html"
    list_display = ["rumor", "verifier_name", "addressed_to", "status", "due", "answer", "created_at"]
    list_filter = ["status", DueFilter, "answer"]
    list_select_related = ["rumor", "verifier"]
    search_fields = ["verifier_name", "verifier_email", "question", "rumor__claim"]
    fields = [
        "rumor",
        "question",
        ("verifier_name", "verifier", "verifier_email"),
        ("status", "due_display_field"),
        ("answer", "answered_at"),
        "answer_text",
        ("answered_by", "answered_by_email"),
        ("requested_by", "created_at"),
    ]
    readonly_fields = (
        fields[:1]
        + ["question", "verifier_name", "verifier", "verifier_email", "status"]
        + [
            "due_display_field",
            "answer",
            "answered_at",
            "answer_text",
            "answered_by",
            "answered_by_email",
            "requested_by",
            "created_at",
        ]
    )

    @admin.display(description=_("addressed to"))
    def addressed_to(self, obj: VerificationRequest) -> str:
        return obj.verifier.get_username() if obj.verifier_id else obj.verifier_email

    @admin.display(description=_("due at"), ordering="due_at")
    def due(self, obj: VerificationRequest) -> str:
        return due_display(obj)

    @admin.display(description=_("due at"))
    def due_display_field(self, obj: VerificationRequest) -> str:
        return due_display(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.has_perm(verification_services.REQUEST):
            return queryset
        return queryset.filter(verifier=request.user)  # a verifier: only what is addressed to it

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # asked from a rumor's page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # answered and cancelled through their own forms (services)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("ask/<int:rumor_id>/", view(self.ask_view), name="%s_%s_ask" % info),
            path("<int:object_id>/answer/", view(require_POST(self.answer_view)), name="%s_%s_answer" % info),
            path("<int:object_id>/cancel/", view(require_POST(self.cancel_view)), name="%s_%s_cancel" % info),
        ] + super().get_urls()

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        user = request.user
        if obj is not None and obj.status == VR.Status.OPEN:
            if obj.verifier_id == user.pk and user.has_perm(verification_services.ANSWER):
                context["answer_form"] = AnswerForm()
            if user.has_perm(verification_services.REQUEST):
                context["cancel_form"] = CancelForm()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _mine(self, request: HttpRequest, object_id: int) -> VerificationRequest:
        return get_object_or_404(self.get_queryset(request).select_related("rumor"), pk=object_id)

    def _change_url(self, obj: VerificationRequest) -> str:
        return reverse("admin:debunk_verificationrequest_change", args=[obj.pk])

    def answer_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        obj = self._mine(request, object_id)
        form = AnswerForm(request.POST)
        if form.is_valid():
            try:
                verification_services.verification_answer(obj, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                self.message_user(request, _("The answer has been recorded on the rumor."), messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(obj))
        for error in [e for errors in form.errors.values() for e in errors]:
            self.message_user(request, error, messages.ERROR)
        response = self.change_view(request, str(obj.pk))
        response.status_code = 400
        return response

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        obj = self._mine(request, object_id)
        form = CancelForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(_("Give a reason."))
            verification_services.verification_cancel(obj, request.user, form.cleaned_data["reason"])
        except ValidationError as exc:
            for error in _errors(exc):
                self.message_user(request, error, messages.ERROR)
        else:
            self.message_user(request, _("The verification request has been cancelled."), messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(obj))

    def ask_view(self, request: HttpRequest, rumor_id: int) -> HttpResponse:
        if not request.user.has_perm(verification_services.REQUEST):
            raise PermissionDenied
        rumor = get_object_or_404(Rumor, pk=rumor_id)
        form = AskForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    verification_services.verification_request(rumor, by=request.user, **form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(form, exc)
                else:
                    self.message_user(request, _("Verification requested."), messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
            status = 400
        return TemplateResponse(
            request,
            "admin/debunk/verificationrequest/ask.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Ask for verification"),
                "form": form,
                "rumor": rumor,
                "opts": self.opts,
            },
            status=status,
        )


# --- hand-overs -----------------------------------------------------------------------------------------------------


class HandoverForm(forms.Form):
    recipient = forms.CharField(label=_("department"), max_length=200)
    recipient_contact = forms.CharField(label=_("contact at the department"), max_length=200, required=False)


def _handover_action(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, kind: str) -> Any:
    if not request.user.has_perm(handover_services.HAND_OVER):
        model_admin.message_user(request, _("You do not have permission to do this."), messages.ERROR)
        return None
    form = HandoverForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        selected = list(queryset)
        try:
            handover = handover_services.handover_create(
                clusters=selected if kind == "leads" else [],
                rumors=selected if kind == "rumors" else [],
                by=request.user,
                **form.cleaned_data,
            )
        except (ValidationError, PermissionDenied) as exc:
            for error in getattr(exc, "messages", [str(exc)]):
                model_admin.message_user(request, error, messages.ERROR)
            return None
        model_admin.message_user(
            request, _("Hand-over #%(id)s prepared: download its package.") % {"id": handover.pk}, messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:debunk_handover_change", args=[handover.pk]))
    return TemplateResponse(
        request,
        "admin/debunk/handover/create.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": _("Hand over to a department"),
            "form": form,
            "items": queryset,
            "action_name": request.POST.get("action", ""),
            "opts": model_admin.opts,
        },
    )


@admin.action(description=_("Hand over to a department…"))
def hand_over_leads(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """The LeadCluster change list's action (add `hand_over_leads` to its admin's `actions`)."""
    return _handover_action(model_admin, request, queryset, "leads")


@admin.action(description=_("Hand over to a department…"))
def hand_over_rumors(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """The Rumor change list's action."""
    return _handover_action(model_admin, request, queryset, "rumors")


class HandoverChangeForm(forms.ModelForm):
    class Meta:
        model = Handover
        fields = ["status", "follow_up"]


@admin.register(Handover)
class HandoverAdmin(admin.ModelAdmin):
    form = HandoverChangeForm
    list_display = ["__str__", "recipient", "status", "lead_count", "rumor_count", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["recipient", "recipient_contact", "follow_up"]
    readonly_fields = [
        "recipient",
        "recipient_contact",
        "leads_display",
        "rumors_display",
        "download",
        "package_sha256",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = [
        ("recipient", "recipient_contact"),
        ("status",),
        "follow_up",
        "leads_display",
        "rumors_display",
        ("download", "package_sha256"),
        ("created_by", "created_at", "updated_at"),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description=_("leads"))
    def lead_count(self, obj: Handover) -> int:
        return obj.clusters.count()

    @admin.display(description=_("rumors"))
    def rumor_count(self, obj: Handover) -> int:
        return obj.rumors.count()

    @admin.display(description=_("leads"))
    def leads_display(self, obj: Handover) -> str:
        return ", ".join(f"#{c.pk} {c}" for c in obj.clusters.all()) or "—"

    @admin.display(description=_("rumors"))
    def rumors_display(self, obj: Handover) -> str:
        return ", ".join(f"#{r.pk} {r}" for r in obj.rumors.all()) or "—"

    @admin.display(description=_("package"))
    def download(self, obj: Handover) -> str:
        if not obj.pk or not obj.package:
            return "—"
        return format_html(
            '<a href="{}" class="download-package">{}</a>',
            reverse("admin:debunk_handover_package", args=[obj.pk]),
            _("Download the package"),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the lead and rumor change lists' action

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(handover_services.HAND_OVER)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Handover, form: Any, change: bool) -> None:
        handover_services.handover_update(
            obj, status=form.cleaned_data["status"], follow_up=form.cleaned_data["follow_up"], by=request.user
        )

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/package/", self.admin_site.admin_view(self.package_view), name="%s_%s_package" % info
            ),
        ] + super().get_urls()

    def package_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        require_perm(request.user, handover_services.HAND_OVER)
        obj = get_object_or_404(Handover, pk=object_id)
        if not obj.package:
            raise Http404
        response = FileResponse(obj.package.open("rb"), as_attachment=True, filename=f"handover-{obj.pk}.zip")
        response["Cache-Control"] = "private, no-store"
        return response
