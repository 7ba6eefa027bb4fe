from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisputesConfig(AppConfig):
    """Complaints: filing, the state machine, deadlines, evidence, timeline, blacklist."""

    name = "disputes"
    verbose_name = _("Complaints")
