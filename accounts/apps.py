from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    """Accounts: registration, login pages and API, the per-account lockout, API tokens."""

    name = "accounts"
    verbose_name = gettext_lazy("Accounts")

    def ready(self) -> None:
        from accounts import logins, phones, security, tokens  # noqa: F401 (signal receivers)
        from kamen_complaints.sms import register_bulk_phone_lookup, register_phone_lookup
        from orders.services.team import register_member_account_created

        register_member_account_created(security.member_account_created)
        register_phone_lookup(phones.verified_phone)
        register_bulk_phone_lookup(phones.verified_phones)
