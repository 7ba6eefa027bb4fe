"""Celery tasks: thin shells around services of the same name."""

from __future__ import annotations

from celery import shared_task

from orders import services


@shared_task(acks_late=True)
def order_topup_deliver(order_id: int) -> None:
    """No Celery retry: an upstream error fails the task, and `orders_sweep` sends the
    still-pending top-up again (the row is the record, not the broker's message)."""
    services.order_topup_deliver(order_id=order_id)


@shared_task(acks_late=True)
def channel_complaint_pushes_send(push_ids: list[int] | None = None) -> int:
    """Tell the payment channel what the platform did about complaints filed there
    (orders.services.channel_complaints); what fails stays for `orders_sweep`."""
    from orders.services.channel_complaints import channel_complaint_pushes_send as send

    return send(push_ids)


@shared_task
def orders_sweep() -> dict[str, int]:
    """Periodic: ask the payment channels about payments still pending (before cancelling
    what was not paid in time), re-send lost top-up deliveries, cancel orders not paid in
    time, expire 6-month verifications, tell the channels what is still to tell of complaints
    filed there."""
    from orders.services.channel_complaints import channel_complaint_pushes_send
    from orders.services.payments import payments_query_pending

    return {
        "channel_payments_confirmed": payments_query_pending(),
        "topups_requeued": services.orders_retry_pending_topups(),
        "unpaid_cancelled": services.orders_cancel_unpaid(),
        "verifications_expired": services.merchants_expire_verifications(),
        "channel_complaint_pushes_sent": channel_complaint_pushes_send(),
    }
