from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantConfig(AppConfig):
    """The merchant dashboard under /merchant/: pages for a shop's owner and team, above
    orders, escrow and disputes, whose services they call. No domain app imports it
    (docs/architecture.md)."""

    name = "merchant"
    verbose_name = _("Merchant dashboard")
