"""The public report page (`/report/`), its result page with the signed receipt, and the receipt check page.

No account: the form is CSRF-protected, POSTs are throttled per client (a keyed hash of the client's address, a
cache counter, REPORT_PUBLIC_RATE), bodies and screenshots are size-limited, and a honeypot field catches simple
bots. Valid reports go through `debunk.reports.intake.reports_submit` (folding, matching on arrival, receipts);
the reporter is sent (POST/redirect/GET) to a result page addressed by a signed token, never by a guessable id.
"""

import hashlib
import hmac
import ipaddress
import json
from typing import Any

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from debunk.api.models import Platform
from debunk.images.api import refusal_message
from debunk.images.decode import ImageRejected
from debunk.images.services import QueryImage, query_image
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import RumorReport
from debunk.reports.receipts import public_key, receipt_verify
from debunk.stock import selectors
from labels.models import Category

OTHER = "other"
TOKEN_SALT = "debunk.report.receipt-page"
RECEIPT_MAX_BYTES = 64 * 1024
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# --- forms ---------------------------------------------------------------------------------------------------------


class CategoryChoiceField(forms.ModelChoiceField):
    """The standard's categories in the current language, sub-categories indented under their parent."""

    def label_from_instance(self, obj: Category) -> str:
        return f"— {obj.name}" if obj.parent_id else obj.name


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ScreenshotsField(forms.FileField):
    """Up to REPORT_MAX_IMAGES uploaded screenshots, each checked (`query_image`) → a tuple of `QueryImage`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> tuple[QueryImage, ...]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > settings.REPORT_MAX_IMAGES:
            raise forms.ValidationError(
                _("At most %(n)s screenshots."), code="too_many", params={"n": settings.REPORT_MAX_IMAGES}
            )
        images = []
        for upload in files:
            if not isinstance(upload, UploadedFile):
                raise forms.ValidationError(_("Attach the picture files themselves."), code="invalid")
            try:
                images.append(query_image(upload.read(settings.UPLOAD_MAX_BYTES + 1)))
            except ImageRejected as exc:
                raise forms.ValidationError(
                    "%(name)s: %(reason)s", code=exc.code, params={"name": upload.name, "reason": refusal_message(exc)}
                ) from None
        return tuple(images)


class ReportForm(forms.Form):
    category = CategoryChoiceField(
        label=_("Category"), queryset=Category.objects.all(), to_field_name="code", empty_label=_("Choose a category")
    )
    text = forms.CharField(
        label=_("What did you see?"),
        required=False,
        max_length=settings.REPORT_TEXT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Copy the text of the post or message."),
    )
    url = forms.CharField(
        label=_("Link"),
        required=False,
        max_length=2000,
        help_text=_("Where it was posted, as text: we never open links you send."),
        widget=forms.TextInput(attrs={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"}),
    )
    images = ScreenshotsField(label=_("Screenshots"))
    where = forms.ChoiceField(label=_("Where did you see it?"), required=False)
    where_other = forms.CharField(label=_("Other place, if not listed"), required=False, max_length=100)
    contact = forms.EmailField(
        label=_("Your e-mail (optional)"),
        required=False,
        help_text=_("We tell you the outcome. Used for nothing else."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    involves_minor = forms.BooleanField(label=_("It involves a minor"), required=False)
    # A honeypot: hidden from people (CSS and aria-hidden), filled in by naive bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["images"].help_text = _(
            "Up to %(n)s pictures (JPEG, PNG, WebP, GIF or BMP), each at most %(mb)s MB."
        ) % {"n": settings.REPORT_MAX_IMAGES, "mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
        platforms = [(p.code, p.name) for p in Platform.objects.filter(is_active=True).order_by("name")]
        self.fields["where"].choices = [("", _("Not sure")), *platforms, (OTHER, _("Other"))]
        self.platform_names = dict(platforms)

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("Leave this field empty."), code="honeypot")
        return ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "text" in data and "images" in data and not data["text"] and not data["images"]:
            raise forms.ValidationError(
                _("Describe what you saw or attach a screenshot (or both)."), code="empty_report"
            )
        return data

    def item(self, language: str) -> ReportItem:
        data = self.cleaned_data
        where = data["where"]
        if where == OTHER:
            where = data["where_other"].strip() or OTHER
        elif where:
            where = self.platform_names[where]
        return ReportItem(
            category=data["category"],
            text=data["text"],
            url=data["url"],
            images=data["images"],
            involves_minor=data["involves_minor"],
            where=where,
            contact=data["contact"],
            language=language,
        )


class VerifyForm(forms.Form):
    receipt = forms.CharField(
        label=_("Receipt (JSON)"),
        required=False,
        max_length=RECEIPT_MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )
    receipt_file = forms.FileField(label=_("or the receipt file"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("receipt_file")
        raw: str = data.get("receipt") or ""
        if upload:
            content = upload.read(RECEIPT_MAX_BYTES + 1)
            if len(content) > RECEIPT_MAX_BYTES:
                raise forms.ValidationError(_("This file is too large to be a receipt."), code="too_large")
            try:
                raw = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    _("This file is not a receipt (not UTF-8 text)."), code="encoding"
                ) from None
        if not raw.strip():
            raise forms.ValidationError(_("Paste a receipt or choose its file."), code="required")
        try:
            data["parsed"] = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise forms.ValidationError(
                _("This is not valid JSON: paste the receipt exactly as given."), code="json"
            ) from None
        if not isinstance(data["parsed"], dict):
            raise forms.ValidationError(_("A receipt is a JSON object ({…})."), code="json")
        return data


# --- throttling ----------------------------------------------------------------------------------------------------


def client_key(request: HttpRequest) -> str:
    """A keyed hash of the client's address (an IPv6 client by its /64): never the address itself."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    except ValueError:
        pass
    return hmac.new(settings.SECRET_KEY.encode(), f"report-client:{address}".encode(), hashlib.sha256).hexdigest()[:32]


def parse_rate(rate: str) -> tuple[int, int]:
    number, _slash, period = rate.partition("/")
    return int(number), PERIODS[period.strip()[0]]


def throttled(request: HttpRequest, scope: str) -> int:
    """Count this POST against the client's budget; the seconds to wait when over it, else 0 (a fixed window)."""
    limit, window = parse_rate(settings.REPORT_PUBLIC_RATE)
    key = f"debunk:report-rate:{scope}:{client_key(request)}"
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return window if count > limit else 0


def _too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "debunk/report_throttled.html", {"minutes": max(1, wait // 60)}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _body_max() -> int:
    """The largest report body accepted: every screenshot at its limit plus the form's text."""
    return settings.REPORT_MAX_IMAGES * settings.UPLOAD_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# --- views ---------------------------------------------------------------------------------------------------------


def receipt_token(report_id: int) -> str:
    return signing.dumps(report_id, salt=TOKEN_SALT)


def _report_for(request: HttpRequest, pk: int) -> RumorReport:
    try:
        token_id = signing.loads(request.GET.get("k", ""), salt=TOKEN_SALT)
    except signing.BadSignature:
        raise Http404 from None
    if token_id != pk:
        raise Http404
    report = RumorReport.objects.select_related("category", "content", "content__cluster").filter(pk=pk).first()
    if report is None or report.source != RumorReport.Source.PUBLIC:
        raise Http404
    return report


@require_http_methods(["GET", "POST"])
def report_form(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "debunk/report_form.html", {"form": ReportForm()})
    wait = throttled(request, "submit")
    if wait:
        return _too_many(request, wait)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _body_max():
        return render(request, "debunk/report_form.html", {"form": ReportForm(), "too_large": True}, status=413)
    form = ReportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "debunk/report_form.html", {"form": form}, status=400)
    [answer] = reports_submit([form.item(translation.get_language() or settings.LANGUAGE_CODE)])
    url = reverse("report-receipt", args=[answer.id])
    return HttpResponseRedirect(f"{url}?k={receipt_token(answer.id)}", status=303)


@never_cache  # a reporter's own page: no shared cache keeps it
def report_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    rumor = None
    if report.rumor_id:
        rumor = selectors.public_rumors().filter(pk=report.rumor_id).first()
    token = request.GET["k"]
    return render(
        request,
        "debunk/report_receipt.html",
        {
            "report": report,
            "rumor": rumor,
            "debunk": rumor.latest_debunk if rumor else None,
            "cluster": report.content.cluster,
            "receipt_json": json.dumps(report.receipt, indent=2, ensure_ascii=False, sort_keys=True),
            "download_url": f"{reverse('report-receipt-json', args=[pk])}?k={token}",
        },
    )


@never_cache
def report_receipt_json(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    body = json.dumps(report.receipt, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    response = HttpResponse(body.encode(), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="debunk-receipt-{report.pk}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "POST"])
def report_verify(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"public_key": public_key()}
    if request.method == "GET":
        return render(request, "debunk/report_verify.html", {**context, "form": VerifyForm()})
    wait = throttled(request, "verify")
    if wait:
        return _too_many(request, wait)
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "debunk/report_verify.html", {**context, "form": form}, status=400)
    valid = receipt_verify(form.cleaned_data["parsed"])
    return render(request, "debunk/report_verify.html", {**context, "form": form, "valid": valid})
