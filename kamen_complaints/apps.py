from django.apps import AppConfig


class KamenComplaintsConfig(AppConfig):
    """Project-wide plumbing (management commands, health); no business logic."""

    name = "kamen_complaints"
    verbose_name = "Kamen Complaints"

    def ready(self) -> None:
        from django.urls import register_converter

        from kamen_complaints.converters import NumberConverter

        # Registered here, before any URLconf is imported: orders and disputes use <number:…>.
        register_converter(NumberConverter, "number")
