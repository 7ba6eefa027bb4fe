"""The load test's settings: the production settings, plus the time-split middleware
(bench/load/timing.py). Only bench/load/run.sh's capacity run names this module
(DJANGO_SETTINGS_MODULE), so no deployment ever carries the middleware."""

from kamen_complaints.settings import *  # noqa: F403
from kamen_complaints.settings import MIDDLEWARE

# First, so it brackets every other middleware and the view: the request's whole time.
MIDDLEWARE = ["bench.load.timing.TimingMiddleware", *MIDDLEWARE]
