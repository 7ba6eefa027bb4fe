"""Every write of the integrations app: the page, the API, the tasks and the admin call these
(docs/architecture.md "Services and selectors")."""

from integrations.services.delivery import (
    deliveries_send,
    deliveries_sweep,
    delivery_attempt,
)
from integrations.services.endpoints import (
    Created,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_set_enabled,
    endpoint_test,
)

__all__ = [
    "Created",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_rotate_secret",
    "endpoint_set_enabled",
    "endpoint_test",
    "deliveries_send",
    "deliveries_sweep",
    "delivery_attempt",
]
