"""Sanctions in the admin: rules (administrators edit them), recommendations and sanctions (read-only; every
decision is an action that calls debunk.sanctions.services), organisations (MCN) with their member accounts and
joint measures, identities (hashes only), the notice outbox, public reports and the work-ledger export.

Adding a sanction asks the rules for a recommendation: for one account, or for every first poster and amplifier
of a rumor."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from debunk.api.models import Platform
from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_lookups import rumor_or_hash_search
from debunk.core.admin_readonly import AddThenReadOnlyMixin, ReadOnlyAdmin
from debunk.core.admin_refusals import DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, refusals_of
from debunk.sanctions import organizations as organization_services
from debunk.sanctions import reports, rules
from debunk.sanctions import services as svc
from debunk.sanctions.models import (
    BannedIdentity,
    Measure,
    Organization,
    OrganizationMember,
    Report,
    Sanction,
    SanctionNotice,
    SanctionRule,
)
from debunk.stock.models import Rumor


@admin.register(SanctionRule)
class SanctionRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "effect", "measure", "days", "steps", "is_active", "updated_at"]
    list_display_links = ["name"]
    list_filter = ["is_active", "effect", "measure"]
    ordering = ["position", "id"]
    fieldsets = [
        (None, {"fields": ["position", "name", "is_active"]}),
        (
            _("Conditions (empty: not checked)"),
            {
                "fields": [
                    "min_severity",
                    "verdict",
                    "max_category_tier",
                    "first_poster",
                    ("min_reach", "max_reach"),
                    ("min_prior_offences", "window_days"),
                    "mcn_member",
                ]
            },
        ),
        (_("Effect"), {"fields": ["effect", "measure", "days", "steps"]}),
    ]

    def save_model(self, request: HttpRequest, obj: SanctionRule, form: forms.ModelForm, change: bool) -> None:
        rules.rule_save(rule=obj, by=request.user)

    def delete_model(self, request: HttpRequest, obj: SanctionRule) -> None:
        rules.rule_delete(rule=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda rule: self.delete_model(request, rule))


class OrganizationMemberInline(admin.TabularInline):
    model = OrganizationMember
    extra = 1
    fields = ["platform", "author_hash"]


class JointMeasureForm(ActionForm):
    measure = forms.ChoiceField(label=_("measure"), choices=[("", "—"), *Measure.choices], required=False)
    days = forms.IntegerField(label=_("days"), min_value=1, required=False)
    reason = forms.CharField(label=_("reason"), required=False)


@admin.register(Organization)
class OrganizationAdmin(DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, admin.ModelAdmin):
    """Organisations and their member accounts, every add, change and delete (inline rows included) through
    debunk.sanctions.organizations (audited)."""

    list_display = ["name", "member_count", "sanctions_applied", "created_at"]
    search_fields = ["name", "members__author_hash"]
    inlines = [OrganizationMemberInline]
    readonly_fields = ["summary"]
    fields = ["name", "notes", "summary"]
    action_form = JointMeasureForm
    actions = ["joint_measure"]

    @admin.display(description=_("member accounts"))
    def member_count(self, obj: Organization) -> int:
        return obj.members.count()

    @admin.display(description=_("sanctions applied"))
    def sanctions_applied(self, obj: Organization) -> int:
        return svc.organization_summary(organization=obj)["sanctions"]

    @admin.display(description=_("sanctions of its accounts, by measure"))
    def summary(self, obj: Organization) -> str:
        if obj.pk is None:
            return "—"
        found = svc.organization_summary(organization=obj)
        labels = dict(Measure.choices)
        return ", ".join(f"{labels[m]}: {n}" for m, n in sorted(found["by_measure"].items())) or "—"

    def save_model(self, request: HttpRequest, obj: Organization, form: forms.ModelForm, change: bool) -> None:
        organization_services.organization_save(organization=obj, by=request.user)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each member row's add, change or delete goes through its service (audited)."""
        instances = formset.save(commit=False)  # lists the deleted rows too, without deleting them
        for member in formset.deleted_objects:
            organization_services.member_remove(member=member, by=request.user)
        for member in instances:
            if member.pk is None:
                organization_services.member_add(
                    organization=member.organization,
                    by=request.user,
                    platform=member.platform,
                    author_hash=member.author_hash,
                )
            else:
                organization_services.member_update(
                    member=member, by=request.user, platform=member.platform, author_hash=member.author_hash
                )

    def delete_refusals(self, objs: list[Organization]) -> list[str]:
        return refusals_of(organization_services.organization_check_deletable, objs, label=len(objs) > 1)

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        organization_services.organization_delete(organization=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda organization: self.delete_model(request, organization))

    def has_joint_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.apply_sanction")

    @admin.action(description=_("Apply a joint measure to every member account"), permissions=["joint"])
    def joint_measure(self, request: HttpRequest, queryset: QuerySet) -> None:
        measure = request.POST.get("measure", "")
        raw_days = request.POST.get("days", "").strip()
        days = int(raw_days) if raw_days.isdecimal() and len(raw_days) < 6 else None
        for organization in queryset:
            try:
                made = svc.organization_sanction(
                    organization=organization,
                    measure=measure,
                    days=days,
                    by=request.user,
                    reason=request.POST.get("reason", ""),
                )
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{organization}: {error_text(exc)}", messages.ERROR)
                continue
            self.message_user(
                request,
                gettext("%(org)s: %(n)d sanction(s) applied.") % {"org": organization, "n": len(made)},
                messages.SUCCESS,
            )


class RecommendForm(forms.ModelForm):
    rumor = forms.ModelChoiceField(label=_("rumor"), queryset=Rumor.objects.all())
    platform = forms.ModelChoiceField(label=_("platform"), queryset=Platform.objects.all(), required=False)
    author_hash = forms.CharField(
        label=_("account (HMAC)"),
        max_length=64,
        required=False,
        help_text=_("Empty: every first poster and amplifier of the rumor."),
    )

    class Meta:
        model = Sanction
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("platform")) != bool((data.get("author_hash") or "").strip()):
            raise forms.ValidationError(_("Give both the platform and the account, or neither."))
        return data


class DecisionForm(ActionForm):
    reason = forms.CharField(label=_("reason"), required=False)
    summary = forms.CharField(label=_("public case summary"), required=False)


@admin.register(Sanction)
class SanctionAdmin(AddThenReadOnlyMixin, ReadOnlyAdmin):
    list_display = [
        "pk",
        "status",
        "measure",
        "days",
        "platform",
        "account",
        "rumor",
        "organization",
        "appeal",
        "approved_at",
        "ends_at",
        "typical_case",
    ]
    list_filter = ["status", "measure", "appeal", "typical_case", "platform"]
    list_select_related = ["platform", "rumor", "organization"]
    search_fields = ["author_hash"]
    search_help_text = _("The start of an account hash, or a rumor id.")
    date_hierarchy = "created_at"
    action_form = DecisionForm
    add_fields = ["rumor", "platform", "author_hash"]  # asking the rules for a recommendation
    actions = [
        "apply_selected",
        "approve_selected",
        "dismiss_selected",
        "lift_selected",
        "uphold_appeal",
        "overturn_appeal",
        "mark_typical",
        "unmark_typical",
    ]
    readonly_fields = [
        "status",
        "measure",
        "days",
        "recommended_measure",
        "rule",
        "figures",
        "matched_rules",
        "rumor",
        "platform",
        "author_hash",
        "organization",
        "reason",
        "recommended_by",
        "applied_by",
        "applied_at",
        "approved_by",
        "approved_at",
        "ends_at",
        "ended_at",
        "appeal",
        "appeal_text",
        "appealed_at",
        "appeal_decided_by",
        "appeal_decided_at",
        "appeal_reason",
        "typical_case",
        "case_summary",
        "created_at",
    ]

    @admin.display(description=_("account (HMAC)"), ordering="author_hash")
    def account(self, obj: Sanction) -> str:
        return obj.author_hash[:12]

    @admin.display(description=_("figures"))
    def figures(self, obj: Sanction) -> str:
        return format_html("<pre>{}</pre>", "\n".join(f"{k}: {v}" for k, v in obj.inputs.items()))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        return rumor_or_hash_search(queryset, search_term, "author_hash")

    # adding = asking the rules for a recommendation
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.recommend_sanction")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = RecommendForm
            kwargs["fields"] = self.add_fields
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Sanction, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if data.get("platform"):
            made = [
                svc.sanction_recommend(
                    rumor=data["rumor"], platform=data["platform"], author_hash=data["author_hash"], by=request.user
                )
            ]
        else:
            made = svc.sanctions_recommend_for_rumor(rumor=data["rumor"], by=request.user)
        self._made = made
        if made:
            obj.pk = made[0].pk
            obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> None:
        return None  # audited by the service

    def response_add(self, request: HttpRequest, obj: Sanction, post_url_continue: str | None = None) -> HttpResponse:
        made = getattr(self, "_made", [])
        if made:
            self.message_user(
                request, gettext("%(n)d recommendation(s) ready for review.") % {"n": len(made)}, messages.SUCCESS
            )
        else:
            self.message_user(
                request, gettext("No first poster or amplifier of this rumor is known."), messages.WARNING
            )
        url = reverse("admin:debunk_sanction_changelist")
        rumor = made[0].rumor_id if made else None
        return HttpResponseRedirect(f"{url}?q={rumor}" if rumor else url)

    # decisions: each goes through the service, one sanction at a time
    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.apply_sanction")

    def _each(self, request: HttpRequest, queryset: QuerySet, call: Any, done_message: str) -> None:
        done = apply_each(self, request, queryset.order_by("pk"), call, label=lambda sanction: f"#{sanction.pk}")
        if done:
            self.message_user(request, done_message % {"n": done}, messages.SUCCESS)

    def _reason(self, request: HttpRequest) -> str:
        return request.POST.get("reason", "")

    @admin.action(description=_("Apply the selected recommendations"), permissions=["decide"])
    def apply_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = self._reason(request)
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_apply(sanction=s, by=request.user, reason=reason),
            gettext("Applied %(n)d sanction(s)."),
        )

    @admin.action(description=_("Approve as second reviewer (four-eyes)"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_approve(sanction=s, by=request.user),
            gettext("Approved %(n)d sanction(s)."),
        )

    @admin.action(description=_("Dismiss the selected recommendations (give a reason)"), permissions=["decide"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = self._reason(request)
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_dismiss(sanction=s, by=request.user, reason=reason),
            gettext("Dismissed %(n)d recommendation(s)."),
        )

    @admin.action(description=_("Lift the selected sanctions (give a reason)"), permissions=["decide"])
    def lift_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = self._reason(request)
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_lift(sanction=s, by=request.user, reason=reason),
            gettext("Lifted %(n)d sanction(s)."),
        )

    @admin.action(description=_("Appeal: uphold (give a reason)"), permissions=["decide"])
    def uphold_appeal(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = self._reason(request)
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_appeal_decide(sanction=s, by=request.user, uphold=True, reason=reason),
            gettext("Upheld %(n)d sanction(s)."),
        )

    @admin.action(description=_("Appeal: overturn (give a reason)"), permissions=["decide"])
    def overturn_appeal(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = self._reason(request)
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_appeal_decide(sanction=s, by=request.user, uphold=False, reason=reason),
            gettext("Overturned %(n)d sanction(s)."),
        )

    @admin.action(description=_("Mark as typical cases (with the public summary)"), permissions=["decide"])
    def mark_typical(self, request: HttpRequest, queryset: QuerySet) -> None:
        summary = request.POST.get("summary", "")
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_mark_typical(sanction=s, by=request.user, typical=True, summary=summary),
            gettext("Marked %(n)d typical case(s)."),
        )

    @admin.action(description=_("Unmark as typical cases"), permissions=["decide"])
    def unmark_typical(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda s: svc.sanction_mark_typical(sanction=s, by=request.user, typical=False),
            gettext("Unmarked %(n)d typical case(s)."),
        )


@admin.register(BannedIdentity)
class BannedIdentityAdmin(ReadOnlyAdmin):
    list_display = ["identity_hash", "sanction", "created_at"]
    list_select_related = ["sanction"]
    search_fields = ["=identity_hash"]


@admin.register(SanctionNotice)
class SanctionNoticeAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "event", "platform", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "event", "platform"]
    list_select_related = ["platform"]


def _day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw.strip()) if raw.strip() else default
    except ValueError:
        return default


class ReportPublishForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=Report.Kind.choices)
    period_start = forms.DateField(
        label=_("from"),
        required=False,
        help_text=_(
            "Empty: the last full week or month. Otherwise a Monday (weekly) or the 1st (monthly), YYYY-MM-DD."
        ),
    )


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "period_start", "period_end", "published_at", "public_link"]
    list_filter = ["kind"]

    @admin.display(description=_("public page"))
    def public_link(self, obj: Report) -> str:
        return format_html('<a href="{}">{}</a>', reverse("report-detail", args=[obj.pk]), gettext("view"))

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("ledger/", self.admin_site.admin_view(self.ledger_view), name="%s_%s_ledger" % info),
            path("publish/", self.admin_site.admin_view(self.publish_view), name="%s_%s_publish" % info),
        ] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method == "GET" and request.user.has_perm("debunk.add_report"):
            self.message_user(
                request,
                format_html(
                    '<a href="{}">{}</a> {}',
                    reverse("admin:debunk_report_publish"),
                    gettext("Publish a report now"),
                    gettext("(Celery beat publishes them on Mondays and on the 1st of each month)."),
                ),
                messages.INFO,
            )
        if request.user.has_perm("debunk.export_ledger"):
            url = reverse("admin:debunk_report_ledger")
            self.message_user(
                request,
                format_html(
                    '{} <a href="{}">{}</a> <code>?start=YYYY-MM-DD&amp;end=YYYY-MM-DD</code>',
                    gettext("Work ledger (every audited action, CSV):"),
                    url,
                    gettext("this month"),
                ),
                messages.INFO,
            )
        return super().changelist_view(request, extra_context)

    def publish_view(self, request: HttpRequest) -> HttpResponse:
        """Publish the report of a period on demand, through the service Celery beat uses (audited, once a period)."""
        if not request.user.has_perm("debunk.add_report"):
            raise PermissionDenied
        form = ReportPublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                report, published = reports.report_publish_period(
                    kind=form.cleaned_data["kind"], period_start=form.cleaned_data["period_start"], by=request.user
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                values = {"report": report, "start": report.period_start, "end": report.period_end}
                if published:
                    self.message_user(request, gettext("Published the report %(report)s.") % values, messages.SUCCESS)
                else:
                    self.message_user(
                        request,
                        gettext("The report %(report)s was already published; nothing changed.") % values,
                        messages.WARNING,
                    )
                return HttpResponseRedirect(reverse("admin:debunk_report_changelist"))
        return TemplateResponse(
            request,
            "admin/debunk/report/publish.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Publish a report now"),
                "form": form,
                "opts": self.model._meta,
            },
        )

    def ledger_view(self, request: HttpRequest) -> HttpResponse:
        """Every audit event of [start, end) as CSV (administrators only)."""
        today = timezone.localdate()
        start = _day(request.GET.get("start", ""), today.replace(day=1))
        end = _day(request.GET.get("end", ""), today + timedelta(days=1))
        zone = timezone.get_current_timezone()
        lines = reports.ledger_export(
            by=request.user, start=datetime.combine(start, time.min, zone), end=datetime.combine(end, time.min, zone)
        )
        return reports.ledger_response(lines, f"ledger-{start}-{end}.csv")
