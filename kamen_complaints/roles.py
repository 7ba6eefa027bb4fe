"""The four staff roles, as Django groups with exactly the permissions each needs
(docs/admin.md, "Roles"). Created and corrected after every `migrate` (a `post_migrate`
handler), so a fresh database, a test database and a production upgrade all have them; a
permission added by hand to one of these groups is removed again — the list here is the truth.
Superusers have every permission and need no group."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db import DEFAULT_DB_ALIAS

ROLES: dict[str, list[str]] = {
    # Review and rule, ask for information, notes, recovery decisions, the blacklist.
    "arbitrator": [
        "disputes.arbitrate",
        "disputes.view_dispute",
        "disputes.view_disputeevent",
        "disputes.view_evidence",
        "disputes.view_packagedownload",
        "disputes.view_disputerating",
        "disputes.manage_blacklist",
        "disputes.view_blacklistentry",
        "disputes.add_blacklistentry",
        "disputes.view_policy",
        # Collective cases: the list and the case screen (docs/collective-cases.md).
        "disputes.view_collectivecase",
        "orders.view_order",
        "orders.view_merchant",
        "kamen_complaints.view_approval",
    ],
    # Verify, reject, suspend merchants; see identity documents (every access recorded).
    "verifier": [
        "orders.view_merchant",
        "orders.verify_merchant",
        "orders.view_identity",
        "orders.view_identityaccess",
        "orders.view_duplicatekeyflag",
    ],
    # Deposits, withdrawals, payouts, manual adjustments, the compensation fund.
    "finance": [
        "escrow.view_account",
        "escrow.post_adjustment",
        "escrow.view_ledgertransaction",
        "escrow.view_ledgerentry",
        "escrow.view_hold",
        "escrow.view_payout",
        "escrow.retry_payout",
        "escrow.view_withdrawal",
        "escrow.approve_withdrawal",
        # A collective case tells finance the money at risk before the platform pays.
        "disputes.view_collectivecase",
        "orders.view_merchant",
        "kamen_complaints.view_approval",
    ],
    # Edit the complaint policy (published with 7 days' notice) and read its history.
    "policy": [
        "disputes.view_policy",
        "disputes.add_policy",
        "disputes.change_policy",
        "disputes.view_policychange",
    ],
}


def ensure_roles(*, using: str = DEFAULT_DB_ALIAS, **_kwargs: Any) -> None:
    """Create or correct the four groups. Idempotent."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for config in apps.get_app_configs():
        # Permissions of apps migrated after the sender may not exist yet on a first migrate.
        create_permissions(config, verbosity=0, using=using)
    for name, dotted in ROLES.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for perm in dotted:
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.using(using).get(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)


def on_post_migrate(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    ensure_roles(using=using)
