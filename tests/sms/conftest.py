"""The SMS tests' fixture: the sandbox's outbox (tests/sms_outbox.py)."""

from tests.sms_outbox import sms_outbox  # noqa: F401 - a fixture (SMS tests)
