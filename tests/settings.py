"""The test suite's settings: the project's own, on the embedded development secrets.

pytest-django imports this module before any conftest, so KAMEN_ENV=development is in place
when kamen_complaints/settings.py reads it, and every process a test starts (manage.py,
celery) inherits it, as under `make test`. Tests of the production rule give their processes
an environment of their own (tests/test_secrets.py, tests/test_production_settings.py)."""

import os

os.environ.setdefault("KAMEN_ENV", "development")

from kamen_complaints.settings import *  # noqa: E402, F403
