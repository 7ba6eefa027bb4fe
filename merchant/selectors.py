"""Reads only the merchant dashboard's pages need, where a page joins what two apps keep
(escrow's ledger rows name a complaint by its id; the complaint's number is the disputes
app's). The domain apps never import this module: it imports them."""

from __future__ import annotations

from django.db.models import QuerySet

from disputes.models import Dispute
from merchant.models import MerchantAPIKey
from orders.models import Merchant


def complaint_numbers(dispute_ids: set[int], merchant: Merchant) -> dict[int, str]:
    """The numbers of these complaints of this shop, by id, in one query (the deposit page's
    ledger rows link to their complaint); another shop's complaint is left out."""
    if not dispute_ids:
        return {}
    rows = Dispute.objects.filter(pk__in=dispute_ids, merchant_id=merchant.pk)
    return dict(rows.values_list("pk", "number"))


def shop_api_keys(merchant: Merchant) -> QuerySet[MerchantAPIKey]:
    """The shop's API keys, newest first, revoked ones included (the API and the page list
    them without their secret, which nobody holds after it was shown); one query."""
    return MerchantAPIKey.objects.filter(merchant=merchant).order_by("-created", "prefix")
