"""Orders now book the refunds their outbox has yet to send (`Order.refund_reserved`): book
the payouts already waiting, so the first send after the upgrade finds its booking.

A payout that no longer fits in what its order may give back could never be sent (the old
rule let one through); it is booked only as far as it fits, and `check_ledger` names it."""

from decimal import Decimal

from django.db import migrations
from django.db.models import Sum


def book(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Payout = apps.get_model("escrow", "Payout")
    unsent = (
        Payout.objects.exclude(status="sent")
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    for order_id, fen in unsent:
        order = Order.objects.select_for_update().get(pk=order_id)
        headroom = order.amount - order.refunded_amount - order.refund_reserved
        booked = min((Decimal(fen) / 100).quantize(Decimal("0.01")), max(headroom, Decimal(0)))
        if booked > 0:
            order.refund_reserved += booked
            order.save(update_fields=["refund_reserved"])


class Migration(migrations.Migration):
    dependencies = [
        ("escrow", "0004_trigger_plan_cache"),
        ("orders", "0003_refund_reserved"),
    ]

    operations = [migrations.RunPython(book, migrations.RunPython.noop)]
