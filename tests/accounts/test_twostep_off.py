"""Turning two-step login off (accounts.services.twostep_turn_off): with the password and a
current code or a recovery code, never while it is required of the account (staff with
STAFF_REQUIRE_2FA), audited; a session held at the second step is let go once it is off.
The page (/accounts/two-step/off/) is tested in test_twostep.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, twostep
from kamen_complaints.audit import action_label
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditEntry
from tests.accounts.test_twostep import _code, _set_up
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fresh_code(device: TOTPDevice) -> str:
    """A code the device has not seen yet (a code is accepted once) and past any throttle."""
    device.refresh_from_db()
    device.throttle_reset()
    device.last_t = -1
    device.save()
    return _code(device)


def test_the_service_turns_it_off_with_password_and_code_and_audits(settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    setup.force_login(owner)
    device, codes = _set_up(setup, owner)
    with pytest.raises(DomainError) as wrong:
        services.twostep_turn_off(user=owner, password="not-it", token=_fresh_code(device))
    assert wrong.value.code == "wrong_password"
    bad = f"{(int(_fresh_code(device)) + 500_000) % 1_000_000:06d}"
    with pytest.raises(DomainError) as wrong:
        services.twostep_turn_off(user=owner, password=PASSWORD, token=bad)
    assert wrong.value.code == "twostep_wrong_code"
    assert twostep.has_device(owner) and not AuditEntry.objects.exists()

    services.twostep_turn_off(user=owner, password=PASSWORD, token=_fresh_code(device))
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticDevice.objects.filter(user=owner).exists()
    entry = AuditEntry.objects.get(action="twostep_turned_off")
    assert entry.actor == owner and entry.object_id == str(owner.pk)
    with translation.override("zh-hans"):
        assert action_label(entry.action) == "账号持有人关闭了两步登录"
    assert services.twostep_match(user=owner, token=codes[1]) is None


def test_staff_may_not_turn_it_off_while_it_is_required(settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = True
    staff = StaffFactory()
    setup = Client()
    setup.force_login(staff)
    device, _codes = _set_up(setup, staff)
    with pytest.raises(DomainError) as caught:
        services.twostep_turn_off(user=staff, password=PASSWORD, token=_fresh_code(device))
    assert caught.value.code == "twostep_required"
    assert twostep.has_device(staff) and not twostep.may_turn_off(staff)
    settings.STAFF_REQUIRE_2FA = False
    assert twostep.may_turn_off(staff)
    services.twostep_turn_off(user=staff, password=PASSWORD, token=_fresh_code(device))
    assert not twostep.has_device(staff)


def test_a_recovery_code_may_confirm_turning_it_off(settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    setup.force_login(owner)
    _device, codes = _set_up(setup, owner)
    services.twostep_turn_off(user=owner, password=PASSWORD, token=codes[0])
    assert not twostep.has_device(owner)


def test_a_session_held_at_the_second_step_is_let_go_once_it_is_off(settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    setup.force_login(owner)
    device, _codes = _set_up(setup, owner)
    held = Client()
    assert held.login(username=owner.username, password=PASSWORD)
    assert held.get(reverse("security"))["Location"].startswith(reverse("twostep_verify"))
    services.twostep_turn_off(user=owner, password=PASSWORD, token=_fresh_code(device))
    assert held.get(reverse("security")).status_code == 200


def test_turning_off_what_is_off_is_refused() -> None:
    owner = UserFactory()
    with pytest.raises(DomainError) as caught:
        services.twostep_turn_off(user=owner, password=PASSWORD, token="123456")
    assert caught.value.code == "twostep_off"
