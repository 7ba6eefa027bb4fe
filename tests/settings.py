"""The test suite's settings: the project's own, on the embedded development secrets.

pytest-django imports this module before any conftest, so KAMEN_ENV=development is in place
when kamen_complaints/settings.py reads it, and every process a test starts (manage.py,
celery) inherits it, as under `make test`. Tests of the production rule give their processes
an environment of their own (tests/test_secrets.py, tests/test_production_settings.py)."""

import os

os.environ.setdefault("KAMEN_ENV", "development")


def _own_redis_database(name: str, worker: str) -> None:
    """Under pytest-xdist each worker (gw0, gw1, …) gets Redis databases of its own for the
    cache and the broker: a test's cache.clear() (FLUSHDB) or a real worker's queue must not
    reach into another worker's tests. gw0 keeps the configured numbers; gwN adds 4·N."""
    url = os.environ.get(name, "")
    if not worker.startswith("gw") or not url.startswith(("redis://", "rediscache://")):
        return
    base, _, db = url.rpartition("/")
    if db.isdigit() and "://" in base:
        os.environ[name] = f"{base}/{int(db) + 4 * int(worker[2:] or 0)}"


for _name in ("CACHE_URL", "CELERY_BROKER_URL"):
    _own_redis_database(_name, os.environ.get("PYTEST_XDIST_WORKER", ""))

from kamen_complaints.settings import *  # noqa: E402, F403
