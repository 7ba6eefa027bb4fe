"""Every write of the orders app: typed, keyword-only functions, one transaction each.

Pages, the API, the admin and Celery tasks all call these; nothing else saves these models.
One module per subdomain (docs/architecture.md); callers import the names from here:

- `merchants`: a shop's application, verification, suspension, identity reveal, expiry;
- `team`: the owner adds and removes the shop's accounts;
- `catalogue`: products and the card-key import;
- `orders`: an order's creation, payment, delivery (card keys, top-ups), reveal, replacement;
- `refunds`: refunds sent through the payment channel, and refunds booked for later;
- `validation` (identity numbers, phones, visible names) and `events` (status history),
  shared by the others.
"""

from orders.services.catalogue import (
    MAX_DELIVERY_MINUTES,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_LINES,
    MAX_KEY_LENGTH,
    MIN_KEY_LENGTH,
    ImportReport,
    Withdrawn,
    card_key_batch_withdraw,
    card_keys_import,
    key_batch_name,
    product_create,
    product_take_off_sale,
    product_update,
)
from orders.services.merchants import (
    REVERIFICATION_PERIOD,
    ActivationGuard,
    merchant_apply,
    merchant_lift_suspension,
    merchant_reject,
    merchant_reveal_identity,
    merchant_set_minimum_deposit,
    merchant_suspend,
    merchant_unsuspend,
    merchant_verify,
    merchants_expire_verifications,
    register_activation_guard,
)
from orders.services.orders import (
    MAX_QUANTITY,
    TOPUP_MAX_ATTEMPTS,
    TOPUP_RETRY_AFTER,
    order_cancel,
    order_create,
    order_pay,
    order_payment_confirm,
    order_record_reveal,
    order_replace_card_key,
    order_reveal_keys,
    order_revealed_keys,
    order_topup_deliver,
    orders_cancel_unpaid,
    orders_retry_pending_topups,
    topup_upstream_name,
)
from orders.services.refunds import order_refund, orders_lock_refundable, orders_reserve_refunds
from orders.services.team import (
    AUDIT_TEAM_MEMBER_ADDED,
    AUDIT_TEAM_MEMBER_REMOVED,
    merchant_member_add,
    merchant_member_remove,
    merchant_service_account_add,
    merchant_service_account_disable,
)
from orders.services.validation import check_visible_name, validate_id_number, validate_phone

__all__ = [
    "AUDIT_TEAM_MEMBER_ADDED",
    "AUDIT_TEAM_MEMBER_REMOVED",
    "MAX_DELIVERY_MINUTES",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_LINES",
    "MAX_KEY_LENGTH",
    "MAX_QUANTITY",
    "MIN_KEY_LENGTH",
    "REVERIFICATION_PERIOD",
    "TOPUP_MAX_ATTEMPTS",
    "TOPUP_RETRY_AFTER",
    "ActivationGuard",
    "ImportReport",
    "Withdrawn",
    "card_key_batch_withdraw",
    "card_keys_import",
    "check_visible_name",
    "key_batch_name",
    "merchant_apply",
    "merchant_lift_suspension",
    "merchant_member_add",
    "merchant_member_remove",
    "merchant_reject",
    "merchant_reveal_identity",
    "merchant_service_account_add",
    "merchant_service_account_disable",
    "merchant_set_minimum_deposit",
    "merchant_suspend",
    "merchant_unsuspend",
    "merchant_verify",
    "merchants_expire_verifications",
    "order_cancel",
    "order_create",
    "order_pay",
    "order_payment_confirm",
    "order_refund",
    "order_record_reveal",
    "order_replace_card_key",
    "order_reveal_keys",
    "order_revealed_keys",
    "order_topup_deliver",
    "orders_cancel_unpaid",
    "orders_lock_refundable",
    "orders_reserve_refunds",
    "orders_retry_pending_topups",
    "product_create",
    "product_take_off_sale",
    "product_update",
    "register_activation_guard",
    "topup_upstream_name",
    "validate_id_number",
    "validate_phone",
]
