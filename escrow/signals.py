"""What escrow tells the rest of the platform, without importing it (dependencies point to
escrow, never from it)."""

from django.dispatch import Signal

# Sent inside the transaction that marks a payout sent (escrow.services.payout_send), once per
# payout: `payout` (escrow.models.Payout, status sent). Receivers write in that transaction —
# the complaints app writes the buyer's notification (disputes.services.notifications).
payout_sent = Signal()

# Sent inside the transaction of a compensation's recovery when the deposit could not cover it
# (escrow.services.compensation): `merchant`, `dispute_id`, `shortfall` (fen this recovery
# added to the debt) and `owed` (fen the shop owes now). The complaints app tells the owner.
debt_recorded = Signal()

# Sent inside the transaction that approves or rejects a withdrawal
# (escrow.services.withdrawals): `withdrawal` (escrow.models.Withdrawal, decided). The
# complaints app tells the owner.
withdrawal_decided = Signal()
