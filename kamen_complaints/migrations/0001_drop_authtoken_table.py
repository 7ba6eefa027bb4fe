"""Drop DRF authtoken's table: it held every API token in clear, and never expired them.

The app is gone from INSTALLED_APPS (replaced by django-rest-knox, tokens stored as digests),
so nothing else would ever remove the table or the tokens in it. Every client logs in again
(POST /api/v1/auth/token/). Irreversible on purpose.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = []

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
    ]
