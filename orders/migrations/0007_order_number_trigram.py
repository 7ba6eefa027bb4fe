"""The merchant's order search matches any part of an order number (orders.selectors
.merchant_orders): on PostgreSQL a trigram index (pg_trgm, a trusted extension since
PostgreSQL 13) serves `number LIKE '%…%'`, so a search of a shop with 200,000 orders reads
the index, not every order. Other databases (SQLite in tests) need no index."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS order_number_trgm_idx "
        "ON orders_order USING gin (number gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS order_number_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_shop_name_key")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
