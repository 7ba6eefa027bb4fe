"""What the integrations app tells the apps above it, without importing them."""

from django.dispatch import Signal

# Sent inside the transaction that disables an endpoint or robot which has been failing for
# 24 h (integrations.services.delivery), once: `endpoint` (integrations.models.Endpoint, saved
# disabled), `failing_since` (datetime), `last_error` (str). The complaints app connects to it
# and tells the shop's owner (disputes.services.shop_notices).
endpoint_disabled = Signal()
