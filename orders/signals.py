"""What the marketplace tells the apps above it, without importing them (dependencies point to
orders, never from it; docs/architecture.md "The dependency direction")."""

from django.dispatch import Signal

# Sent inside the transaction that changes a shop's status or its suspension reason
# (orders.services.events.status_changed), once per change: `merchant` (orders.models.Merchant,
# already saved), `before` (its status before), `before_reason` (its suspension reason before).
# The complaints app connects to it and tells the owner (disputes.services.shop_notices).
shop_status_changed = Signal()

# Sent after the transaction that posted a message on an order's buyer–shop thread commits
# (orders.services.chat), once per message: `message` (orders.models.OrderMessage). The
# integrations app connects to it and sends the shop's `order.message` webhook event.
order_message_posted = Signal()

# Sent inside the transaction that records a complaint the buyer filed on the payment channel
# (orders.services.channel_complaints), once per complaint: `complaint`
# (orders.models.ChannelComplaint, saved) and `images` ([(name, bytes)] as the channel gave
# them). The complaints app connects to it, opens or joins the order's case and returns
# (case id or None, a note): orders records it on the complaint.
channel_complaint_received = Signal()
