from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class KamenComplaintsConfig(AppConfig):
    """Project-wide plumbing (settings, health, the audit log and the four-eyes approvals the
    apps register with); no business logic."""

    name = "kamen_complaints"
    # The app's admin section holds the audit log and second approvals.
    verbose_name = gettext_lazy("Audit and approvals")

    def ready(self) -> None:
        from django.urls import register_converter

        from kamen_complaints.converters import NumberConverter

        # Registered here, before any URLconf is imported: orders and disputes use <number:…>.
        register_converter(NumberConverter, "number")

        from django.db.models.signals import post_migrate

        from kamen_complaints.roles import on_post_migrate

        # The staff roles (groups) after every migrate; sender: this app, once per migrate.
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="kamen_roles")

        from django.core import checks

        from kamen_complaints.deployment import check_development_secrets

        # Development secrets outside development stop every command that runs checks.
        checks.register(check_development_secrets, checks.Tags.security)
