"""The complaint tests' guards (tests/complaint_fixtures.py, shared with tests/flows)."""

from tests.complaint_fixtures import (  # noqa: F401 - autouse fixtures, applied by import
    _broker_assumed_up,
    _fast_passwords,
    _seeded_policy,
)
from tests.sms_outbox import sms_outbox  # noqa: F401 - a fixture (SMS tests)
