import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
application = get_asgi_application()

# ASGI servers run no system checks: refuse here, as wsgi.py does.
from kamen_complaints.deployment import refuse_development_secrets  # noqa: E402

refuse_development_secrets()
