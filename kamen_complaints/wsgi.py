import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse here, so no worker boots on a development secret
# outside development (kamen_complaints/deployment.py).
from kamen_complaints.deployment import refuse_development_secrets  # noqa: E402

refuse_development_secrets()
