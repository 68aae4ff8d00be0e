"""Forms of the public pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from labels.models import Category, VerdictLabel


class SearchForm(forms.Form):
    """The public search box and its filters (GET parameters, so result pages can be shared)."""

    q = forms.CharField(label=_("Search"), max_length=200, required=False, strip=True)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), to_field_name="code", required=False, empty_label=_("All")
    )
    verdict = forms.ModelChoiceField(
        label=_("Verdict"),
        queryset=VerdictLabel.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All"),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
