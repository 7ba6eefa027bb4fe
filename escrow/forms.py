"""Forms of the deposit page (escrow/merchant_views.py). They check shape; the rules stay in
escrow.services, whose refusal (open complaints, not enough available, under the minimum) is
shown next to the amount."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.shop_forms import YuanField


class TopupForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput, initial="topup")
    amount = YuanField(label=_("Top-up amount (yuan)"))


class WithdrawalForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput, initial="withdraw")
    amount = YuanField(
        label=_("Withdrawal amount (yuan)"),
        help_text=_(
            "At most what open complaints, pending withdrawals, the minimum deposit and any "
            "debt leave free (below). Finance staff then pay it out."
        ),
    )
