from __future__ import annotations

import pytest


@pytest.fixture
def allow_private(settings):
    """The loopback receivers of these tests are private addresses: allowed here only."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
