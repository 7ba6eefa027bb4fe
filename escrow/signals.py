"""What escrow tells the rest of the platform, without importing it (dependencies point to
escrow, never from it)."""

from django.dispatch import Signal

# Sent inside the transaction that marks a payout sent (escrow.services.payout_send), once per
# payout: `payout` (escrow.models.Payout, status sent). Receivers write in that transaction —
# the complaints app writes the buyer's notification (disputes.services.notifications).
payout_sent = Signal()
