from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import override_settings


@pytest.fixture
def allow_private(settings):
    """The loopback receivers of these tests are private addresses: allowed here only."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture(scope="module")
def zh_catalogue() -> Iterator[None]:
    """Robot messages are Chinese: the catalogue compiled (the .mo files are not committed),
    and the process's cached catalogues dropped (tests/test_translations.py does the same)."""
    call_command("compile_translations", verbosity=0)
    # Python's gettext keeps each .mo it read by path: a catalogue read before it was compiled
    # again would otherwise stay in this process.
    gettext_module._translations.clear()  # type: ignore[attr-defined]
    with override_settings(LOCALE_PATHS=list(django_settings.LOCALE_PATHS)):
        yield
