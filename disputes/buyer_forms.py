"""Forms of the buyer's complaint pages. They check shape; the rules stay in the services,
whose refusals are put next to the field named in FIELD_OF_CODE
(kamen_complaints.forms.add_domain_error)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from disputes.models import UPLOADABLE_EVIDENCE, EvidenceKind, Status
from disputes.services.conversation import MAX_TEXT
from disputes.services.rating import MAX_COMMENT, MAX_SCORE, MIN_SCORE

# Service error codes that belong to one field; any other refusal is shown above the form.
FIELD_OF_CODE = {
    "reason_required": ("body", "reason"),
    "evidence_type": ("file",),
    "evidence_too_large": ("file",),
    "evidence_invalid": ("file",),
    "evidence_kind_invalid": ("kind",),
    "amount_invalid": ("amount",),
}


def _text(
    label: Any, *, required: bool = True, max_length: int = MAX_TEXT, rows: int = 3
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All complaints")), *Status.choices], required=False
    )


class MessageForm(forms.Form):
    body = _text(_("Your message"))


class EvidenceForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of evidence"),
        choices=[(k, EvidenceKind(k).label) for k in UPLOADABLE_EVIDENCE],
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("An image (PNG, JPEG, WebP) or a PDF."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp,application/pdf"}
        ),
    )
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=500)


class RejectForm(forms.Form):
    message = _text(_("Why do you reject the offer? (optional)"), required=False, rows=2)


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, I want to withdraw this complaint. The merchant will not have to answer it."),
        error_messages={"required": _("Tick the box to confirm the withdrawal.")},
    )
    message = _text(_("Why do you withdraw? (optional)"), required=False, rows=2)


class AppealForm(forms.Form):
    reason = _text(_("Why do you appeal?"), rows=4)


# What each score means, worst first: the choices read 1 (very poor) to 5 (very satisfied),
# each a radio button with its words as its label (the stars beside it are decoration).
SCORE_WORDS = {
    1: _("very poor"),
    2: _("poor"),
    3: _("fair"),
    4: _("satisfied"),
    5: _("very satisfied"),
}


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how your complaint was handled?"),
        choices=[(n, SCORE_WORDS[n]) for n in range(MIN_SCORE, MAX_SCORE + 1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a score from 1 to 5.")},
    )
    comment = _text(_("Comment (optional)"), required=False, max_length=MAX_COMMENT, rows=3)
