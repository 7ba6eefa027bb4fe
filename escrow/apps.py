from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscrowConfig(AppConfig):
    """Merchant deposits as a double-entry ledger: the only code that writes money."""

    name = "escrow"
    verbose_name = _("Deposits")
