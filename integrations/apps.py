from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """What the platform tells systems outside it on a shop's behalf: signed webhooks and group
    robots (WeChat Work, DingTalk, Feishu), delivered from an outbox with retries
    (docs/integrations.md). Below `disputes`, above `escrow`: the complaints app calls
    `integrations.events.emit`; the marketplace is heard through its signals."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from integrations.receivers import order_message_posted_event
        from orders.signals import order_message_posted

        # orders sends it after the message's transaction commits (orders.signals).
        order_message_posted.connect(
            order_message_posted_event, dispatch_uid="integrations.order_message"
        )
