"""What every app's forms share: a service's refusal put next to the field it is about
(`add_domain_error`), an amount in yuan as a person types it (`YuanField`), and ids of its
own for each of a page's forms (`own_ids`).

Forms check shape; the rules stay in the services (docs/architecture.md), whose DomainError
carries a code. Each page's forms module keeps its own map from those codes to its fields
and hands it here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kamen_complaints.errors import DomainError
from kamen_complaints.money import parse_yuan

# A code → the field it belongs to, or the fields to try in turn (the first the form has).
FieldsOfCode = Mapping[str, str | Sequence[str]]


def add_domain_error(form: forms.BaseForm, error: DomainError, *, fields: FieldsOfCode) -> None:
    """Show a service's refusal next to the field its code belongs to in `fields`, when the
    form has that field; otherwise above the form."""
    names = fields.get(error.code, ())
    for name in (names,) if isinstance(names, str) else names:
        if name in form.fields:
            form.add_error(name, error.message)
            return
    form.add_error(None, error.message)


def own_ids(context: dict[str, Any]) -> dict[str, Any]:
    """A page with several forms whose fields share names (message, file, amount): each form
    in `context` under "<name>_form" gets ids of its own ("<name>-<field>"), so every
    <label for> names its own control and no id is on the page twice (README, accessibility)."""
    for key, value in context.items():
        if key.endswith("_form") and isinstance(value, forms.BaseForm):
            value.auto_id = f"{key.removesuffix('_form')}-%s"
    return context


class YuanField(forms.CharField):
    """An amount in yuan as a person types it ("12.5", "¥1,000.00"), read exactly
    (kamen_complaints.money.parse_yuan: never a float, at most 2 decimals, above zero)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        text = text.strip().lstrip("¥￥").replace(",", "").replace("，", "")
        try:
            amount = parse_yuan(text)
        except ValueError as exc:
            raise ValidationError(str(exc), code="amount_invalid") from exc
        if amount <= 0:
            raise ValidationError(_("Enter an amount above zero."), code="amount_invalid")
        return amount
