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

        # A deposit top-up paid through a real channel is credited when the channel confirms
        # it (orders.services.payments calls the purpose's handler).
        from escrow.services.deposits import deposit_topup_paid
        from orders.services.payments import register_payment_purpose

        register_payment_purpose("topup", deposit_topup_paid)

        # The ledger postings' four-eyes approvals (the project package imports no app).
        from escrow import approvals

        approvals.register()
