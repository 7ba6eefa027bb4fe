from django.apps import AppConfig


class KamenComplaintsConfig(AppConfig):
    """Project-wide plumbing (management commands, health); no business logic."""

    name = "kamen_complaints"
    verbose_name = "Kamen Complaints"
