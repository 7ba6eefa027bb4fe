from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """Merchants (with verification), products, card-key stock, orders, payments, delivery.

    Knows nothing of complaints or ledgers (docs/architecture.md: dependencies point one way)."""

    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from kamen_complaints.backups import RestoreCheck, register_restore_check
        from orders.crypto import restore_check

        # After a restore, every card key and identity number must decrypt (the project
        # package imports no app: docs/architecture.md).
        register_restore_check(RestoreCheck("orders.secrets", restore_check))

        # No sandbox outside development unless it is a demo; every channel named loads.
        from django.core import checks

        from orders.checks import check_payment_setup

        checks.register(check_payment_setup)

        # The "order" payment purpose registers itself with the channel payments.
        import orders.services.payments  # noqa: F401
