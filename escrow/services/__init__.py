"""Every write of money: typed, keyword-only functions, one transaction each.

The rules (docs/architecture.md "The ledger"):
- Every movement is one balanced `LedgerTransaction` under a unique idempotency key; posting
  the same key again returns the first transaction and moves nothing.
- Balances live on the account rows and change only here, in the transaction that writes the
  legs, with the rows locked (`select_for_update`, always in id order, so two postings never
  deadlock and never lose an update).
- A complaint moves money at most once per movement: `dispute:<id>:payout`,
  `dispute:<id>:recovery`, `dispute:<id>:appeal-payout`, `dispute:<id>:recovery-reversal`.
  A buyer's payout is never clawed back.
- An order is never compensated twice (docs/money.md): a payout is booked on its order under
  the order's row lock and refused past what the order may still give back (its amount less
  refunds sent and booked); a recovery never exceeds what its complaint paid out.
- A hold reserves `min(claimed, available)` of a deposit; a recovery consumes its own hold,
  then unheld balance, and books the rest as the merchant's receivable, so holds never exceed
  the balance.
- A merchant that owes a receivable or whose deposit is under its minimum is suspended with
  reason `deposit`; the top-up that cures it lifts that suspension (never a manual one).

Lock order, everywhere: a caller's own rows (payout, withdrawal) first, then the order rows
(id order), then the ledger accounts — the platform's before the merchants', each in id
order — then the merchant row (orders.services.merchant_suspend).

One module per job; callers import the names from here:

- `ledger`: amounts, the accounts and their locks, posting, the shop's standing (also the
  functions escrow.batch builds on);
- `holds`: a deposit's holds for open complaints;
- `compensation`: paying the buyer first, recovering from the merchant, reversing a recovery;
- `payouts`: refunds through the payment channel, retried until they go through;
- `deposits`: top-ups and the minimum deposit;
- `withdrawals`: the owner's requests, finance's decisions;
- `adjustments`: finance's manual postings.
"""

from escrow.services.adjustments import (
    ADJUSTABLE,
    COUNTERPARTS,
    adjustment_post,
    compensation_fund_topup,
)
from escrow.services.compensation import (
    PAYOUT_KINDS,
    compensation_appeal_payout,
    compensation_headroom,
    compensation_pay,
    compensation_recover,
    compensation_recovery_reversal,
    paid_out,
    paid_out_by_reference,
    recovery_split,
)
from escrow.services.deposits import (
    deposit_set_minimum,
    deposit_topup,
    deposit_topup_confirm,
    deposit_topup_start,
)
from escrow.services.holds import deposit_hold, hold_release
from escrow.services.payouts import (
    PAYOUT_RETRY_BASE,
    PAYOUT_RETRY_MAX,
    payout_send,
    payouts_send,
    payouts_send_pending,
)
from escrow.services.withdrawals import withdrawal_approve, withdrawal_reject, withdrawal_request

__all__ = [
    "ADJUSTABLE",
    "COUNTERPARTS",
    "PAYOUT_KINDS",
    "PAYOUT_RETRY_BASE",
    "PAYOUT_RETRY_MAX",
    "adjustment_post",
    "compensation_appeal_payout",
    "compensation_fund_topup",
    "compensation_headroom",
    "compensation_pay",
    "compensation_recover",
    "compensation_recovery_reversal",
    "deposit_hold",
    "deposit_set_minimum",
    "deposit_topup",
    "deposit_topup_confirm",
    "deposit_topup_start",
    "hold_release",
    "paid_out",
    "paid_out_by_reference",
    "payout_send",
    "payouts_send",
    "payouts_send_pending",
    "recovery_split",
    "withdrawal_approve",
    "withdrawal_reject",
    "withdrawal_request",
]
