from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    """Accounts: registration, login pages and API, the per-account lockout, API tokens."""

    name = "accounts"
    verbose_name = gettext_lazy("Accounts")

    def ready(self) -> None:
        from accounts import logins, tokens  # noqa: F401 (signal receivers)
