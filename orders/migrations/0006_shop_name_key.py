"""Shop names compared as people read them (kamen_complaints.text.name_key): a unique
`shop_name_key`, filled here for the shops already open. Two old shops whose names are the
same after normalisation keep their names; the later one gets no key (NULL, which the unique
index allows) and staff rename it in the admin. Identity numbers stored with fullwidth digits
are normalised and fingerprinted again (docs/rules.md "Names and numbers as typed")."""

from django.db import migrations, models

import kamen_complaints.text


def normalise_identity_numbers(apps, schema_editor):
    """Identity numbers stored before they were normalised: 17 fullwidth digits and an ASCII
    check digit passed the old check and were fingerprinted as typed, so the same identity
    could hold two shops. Store them as `validate_id_number` would now (decrypt, normalise,
    encrypt, fingerprint): the verifier then sees the shared identity. A value that does not
    decrypt is left alone (`manage.py restore --check` reports it)."""
    from cryptography.fernet import InvalidToken

    from orders import crypto

    merchant_model = apps.get_model("orders", "Merchant")
    rows = merchant_model.objects.exclude(id_number_encrypted="").order_by("pk")
    for pk, token in rows.values_list("pk", "id_number_encrypted").iterator():
        try:
            plain = crypto.decrypt(token)
        except (InvalidToken, ValueError):
            continue
        normal = kamen_complaints.text.normalize_digits(plain).upper()
        if normal == plain:
            continue
        merchant_model.objects.filter(pk=pk).update(
            id_number_encrypted=crypto.encrypt(normal),
            id_number_last4=normal[-4:],
            id_number_fingerprint=crypto.fingerprint(normal, purpose="identity"),
        )


def fill_keys(apps, schema_editor):
    merchant_model = apps.get_model("orders", "Merchant")
    seen = set()
    for merchant in merchant_model.objects.order_by("pk").only("pk", "shop_name"):
        key = kamen_complaints.text.name_key(merchant.shop_name)
        if key in seen:
            continue
        seen.add(key)
        merchant_model.objects.filter(pk=merchant.pk).update(shop_name_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_status_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="shop_name_key",
            field=models.CharField(
                editable=False,
                max_length=255,
                null=True,
                unique=True,
                verbose_name="shop name, as compared",
            ),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.RunPython(normalise_identity_numbers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="merchant",
            name="shop_name",
            field=models.CharField(
                max_length=80,
                unique=True,
                validators=[kamen_complaints.text.VisibleTextValidator()],
                verbose_name="shop name",
            ),
        ),
        migrations.AlterField(
            model_name="product",
            name="name",
            field=models.CharField(
                max_length=120,
                validators=[kamen_complaints.text.VisibleTextValidator()],
                verbose_name="name",
            ),
        ),
    ]
