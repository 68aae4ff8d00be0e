from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from debunk.stock.attachments import check_upload
from debunk.stock.models import Attachment, RumorVariant


class TransitionForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)

    def __init__(self, *args, reason_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required
        if not reason_required:
            self.fields["reason"].widget = forms.HiddenInput()


class VariantForm(forms.ModelForm):
    class Meta:
        model = RumorVariant
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 80})}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        rumor = self.instance.rumor if self.instance.rumor_id else None
        if rumor is not None:
            if text == rumor.claim.strip():
                raise ValidationError(_("This is the claim itself."))
            if rumor.variants.filter(text=text).exclude(pk=self.instance.pk).exists():
                raise ValidationError(_("This rumor already has this text."))
        return text


class AttachmentForm(forms.ModelForm):
    """Checks the upload by its content while the form is validated, so a bad file is a form error."""

    class Meta:
        model = Attachment
        fields = ["file", "role", "caption"]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and not self.instance.pk:
            self.checked = check_upload(upload, upload.name)
        return upload
