"""The public answer page of a verification request (`/verify-claim/<token>/`): the holder of the one-time link
mailed to an e-mail verifier answers there, without an account."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from debunk.reports import verification as services
from debunk.reports.models import VerificationRequest


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label=_("Your answer"), choices=VerificationRequest.Answer.choices, widget=forms.RadioSelect
    )
    answer_text = forms.CharField(
        label=_("Explanation"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What you found, and on what it rests (documents, measurements, official notices)."),
    )


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, "debunk/verify_claim.html", context, status=status)
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL: never pass it on
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
def verify_claim(request: HttpRequest, token: str) -> HttpResponse:
    vr = services.verification_for_token(token)
    if vr is None:
        return _page(request, {"problem": _("This answer link is not valid. Check that you copied it whole.")}, 404)
    closed = services.closed_message(vr)
    if closed:
        return _page(request, {"problem": closed, "vr": vr}, 410)
    form = AnswerForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.verification_answer(vr, token=token, **form.cleaned_data)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    return _page(request, {"problem": " ".join(exc.messages), "vr": vr}, 410)
            except PermissionDenied as exc:
                return _page(request, {"problem": str(exc), "vr": vr}, 403)
            else:
                return _page(request, {"done": True, "vr": vr})
        status = 400
    return _page(request, {"vr": vr, "form": form}, status)
