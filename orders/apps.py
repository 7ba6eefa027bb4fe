from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """Merchants (with verification), products, card-key stock, orders, payments, delivery.

    Knows nothing of complaints or ledgers (docs/architecture.md: dependencies point one way)."""

    name = "orders"
    verbose_name = _("Orders")
