"""The staff desk for complaints, in Django's admin: the registrations (policy, blacklist,
complaints and their review queue: registrations), the arbitration case screen (desk) and
the metrics page (metrics). Importing the package registers them all (admin autodiscovery)."""

from disputes.admin import collective, metrics, registrations  # noqa: F401 (registers the pages)
