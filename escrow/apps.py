from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscrowConfig(AppConfig):
    """Merchant deposits as a double-entry ledger: the only code that writes money."""

    name = "escrow"
    verbose_name = _("Deposits")

    def ready(self) -> None:
        # orders asks this guard when staff verify or unsuspend a shop (dependencies point
        # one way: escrow registers with orders, orders never imports escrow).
        from escrow.selectors import deposit_activation_guard
        from orders.services import register_activation_guard

        register_activation_guard(deposit_activation_guard)

        # The ledger postings' four-eyes approvals (the project package imports no app).
        from escrow import approvals

        approvals.register()
