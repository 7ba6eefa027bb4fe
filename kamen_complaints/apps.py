from django.apps import AppConfig


class KamenComplaintsConfig(AppConfig):
    """Project-wide plumbing (management commands, health, logins and API tokens); no business
    logic."""

    name = "kamen_complaints"
    verbose_name = "Kamen Complaints"

    def ready(self) -> None:
        from django.urls import register_converter

        from kamen_complaints import logins, tokens  # noqa: F401 (signal receivers)
        from kamen_complaints.converters import NumberConverter

        # Registered here, before any URLconf is imported: orders and disputes use <number:…>.
        register_converter(NumberConverter, "number")

        from django.core import checks

        from kamen_complaints.deployment import check_development_secrets

        # Development secrets outside development stop every command that runs checks.
        checks.register(check_development_secrets, checks.Tags.security)
