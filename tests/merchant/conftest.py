"""The merchant app's tests use the complaint tests' guards (tests/complaint_fixtures.py)."""

from tests.complaint_fixtures import (  # noqa: F401 - autouse fixtures, applied by import
    _broker_assumed_up,
    _fast_passwords,
    _seeded_policy,
)
