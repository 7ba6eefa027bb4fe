"""Two-step login (django-otp TOTP and recovery codes): required of staff when
STAFF_REQUIRE_2FA is on, offered to everyone else on the security page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, twostep
from kamen_complaints.audit import action_label
from kamen_complaints.errors import DomainError
from kamen_complaints.models import AuditEntry
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice, drift: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{value:06d}"


def _set_up(client: Client, user: User, next_url: str = "") -> tuple[TOTPDevice, list[str]]:
    page = client.get(reverse("twostep_setup"), {"next": next_url} if next_url else {})
    assert page.status_code == 200 and "otpauth://totp/" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"] in page.content.decode()
    # The QR code on the page is this device's otpauth URI (the modules segno draws for it).
    import re

    import segno

    drawn = re.search(r'<svg[^>]*class="totp-qr".*?</svg>', page.content.decode(), re.S)
    assert drawn is not None and "<script" not in drawn.group(0) and "style=" not in drawn.group(0)
    expected = segno.make(device.config_url, error="m").svg_inline(scale=4, border=4)
    assert re.search(r' d="([^"]+)"', expected).group(1) in drawn.group(0)  # type: ignore[union-attr]
    wrong = f"{(int(_code(device)) + 500_000) % 1_000_000:06d}"
    assert client.post(reverse("twostep_setup"), {"token": wrong}).status_code == 400
    device.refresh_from_db()
    assert not device.confirmed
    device.throttle_reset()  # django-otp delays the try after a wrong code
    done = client.post(reverse("twostep_setup"), {"token": _code(device), "next": next_url})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def test_staff_without_a_device_must_set_one_up(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = True
    staff = StaffFactory()
    assert client.login(username=staff.username, password=PASSWORD)
    held = client.get("/admin/")
    assert held.status_code == 302
    assert held["Location"].startswith(reverse("twostep_setup"))
    _set_up(client, staff, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_staff_with_a_device_needs_a_correct_code(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = True
    staff = StaffFactory()
    setup = Client()
    assert setup.login(username=staff.username, password=PASSWORD)
    device, _codes = _set_up(setup, staff)

    # The admin's own login: the password, then the second step.
    answer = client.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD}
    )
    assert answer.status_code == 302
    held = client.get("/admin/")
    assert held.status_code == 302 and held["Location"].startswith(reverse("twostep_verify"))
    current = _code(device)
    wrong = f"{(int(current) + 1) % 1_000_000:06d}"
    refused = client.post(reverse("twostep_verify"), {"token": wrong, "next": "/admin/"})
    assert refused.status_code == 400
    assert client.get("/admin/").status_code == 302  # still held
    # A wrong code delays the next try (django-otp's throttle); past it, the right code works.
    device.refresh_from_db()
    device.throttle_reset()
    passed = client.post(
        reverse("twostep_verify"), {"token": _code(device, drift=1), "next": "/admin/"}
    )
    assert passed.status_code == 302 and passed["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_are_not_held_when_the_setting_is_off(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    staff = StaffFactory()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_works_once(settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    assert setup.login(username=owner.username, password=PASSWORD)
    _device, codes = _set_up(setup, owner)

    first = Client()
    assert first.login(username=owner.username, password=PASSWORD)
    assert first.get(reverse("security"))["Location"].startswith(reverse("twostep_verify"))
    assert first.post(reverse("twostep_verify"), {"token": codes[0]}).status_code == 302
    assert first.get(reverse("security")).status_code == 200

    second = Client()
    assert second.login(username=owner.username, password=PASSWORD)
    reused = second.post(reverse("twostep_verify"), {"token": codes[0]})
    assert reused.status_code == 400
    assert second.get(reverse("security")).status_code == 302


def test_an_owner_may_turn_it_on_from_the_security_page(client: Client) -> None:
    owner = UserFactory()
    client.force_login(owner)
    page = client.get(reverse("security"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert reverse("twostep_setup") in page.content.decode()
    assert not page.context["has_device"]
    _set_up(client, owner)
    assert client.get(reverse("security")).context["has_device"]


def test_api_token_asks_the_second_step(api_client: Any, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    setup.force_login(owner)
    device, _codes = _set_up(setup, owner)
    url = "/api/v1/auth/token/"
    without = api_client.post(
        url, {"username": owner.username, "password": PASSWORD}, format="json"
    )
    assert without.status_code == 403 and without.json()["code"] == "otp_required"
    device.refresh_from_db()
    device.throttle_reset()
    device.last_t = -1
    device.save()
    with_code = api_client.post(
        url,
        {"username": owner.username, "password": PASSWORD, "otp_token": _code(device)},
        format="json",
    )
    assert with_code.status_code == 200 and with_code.json()["token"]


def test_a_password_alone_reaches_no_other_page(settings: Any) -> None:
    """Held at the second step, the password cannot set up a new authenticator, change the
    password or sign out everywhere."""
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    setup = Client()
    setup.force_login(owner)
    device, _codes = _set_up(setup, owner)
    intruder = Client()
    assert intruder.login(username=owner.username, password=PASSWORD)
    for url in (reverse("twostep_setup"), reverse("password_change"), reverse("security")):
        held = intruder.get(url)
        assert held.status_code == 302 and held["Location"].startswith(reverse("twostep_verify"))
    posted = intruder.post(reverse("sign_out_everywhere"))
    assert posted["Location"].startswith(reverse("twostep_verify"))
    assert TOTPDevice.objects.filter(user=owner).count() == 1
    assert intruder.get("/api/v1/auth/register/").status_code in (403,)
    device.refresh_from_db()
    assert device.confirmed
    assert intruder.get(reverse("twostep_off")).status_code == 302  # nor turn it off


# --- Turning it off -------------------------------------------------------------------------


def _fresh_code(device: TOTPDevice) -> str:
    """A code the device has not seen yet (a code is accepted once) and past any throttle."""
    device.refresh_from_db()
    device.throttle_reset()
    device.last_t = -1
    device.save()
    return _code(device)


def test_an_owner_turns_it_off_with_password_and_code(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    owner = UserFactory()
    client.force_login(owner)
    device, codes = _set_up(client, owner)
    page = client.get(reverse("security"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert reverse("twostep_off") in page and "关闭两步登录" in page

    wrong_password = client.post(
        reverse("twostep_off"),
        {"password": "not-it", "token": _fresh_code(device)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert wrong_password.status_code == 400
    assert "密码不正确" in wrong_password.content.decode()
    wrong_code = f"{(int(_fresh_code(device)) + 500_000) % 1_000_000:06d}"
    refused = client.post(reverse("twostep_off"), {"password": PASSWORD, "token": wrong_code})
    assert refused.status_code == 400
    assert refused.context["form"].errors["token"]
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
    assert not AuditEntry.objects.filter(action="twostep_turned_off").exists()

    done = client.post(reverse("twostep_off"), {"password": PASSWORD, "token": _fresh_code(device)})
    assert done.status_code == 302 and done["Location"] == reverse("security")
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticDevice.objects.filter(user=owner).exists()  # the recovery codes too
    entry = AuditEntry.objects.get(action="twostep_turned_off")
    assert entry.actor == owner and entry.object_id == str(owner.pk)
    assert entry.before == {"two_step": True} and entry.after["two_step"] is False
    with translation.override("zh-hans"):
        assert action_label(entry.action) == "账号持有人关闭了两步登录"  # in words, not its code
    assert not client.get(reverse("security")).context["has_device"]

    # The next login needs the password alone; a recovery code means nothing any more.
    later = Client()
    assert later.login(username=owner.username, password=PASSWORD)
    assert later.get(reverse("security")).status_code == 200
    assert services.twostep_match(user=owner, token=codes[1]) is None


def test_staff_keep_it_while_it_is_required(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = True
    staff = StaffFactory()
    client.force_login(staff)
    device, _codes = _set_up(client, staff)
    page = client.get(reverse("security"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("twostep_off") not in page
    assert "it cannot be turned off" in page
    assert client.get(reverse("twostep_off"))["Location"] == reverse("security")
    posted = client.post(
        reverse("twostep_off"), {"password": PASSWORD, "token": _fresh_code(device)}
    )
    assert posted["Location"] == reverse("security")
    with pytest.raises(DomainError) as caught:
        services.twostep_turn_off(user=staff, password=PASSWORD, token=_fresh_code(device))
    assert caught.value.code == "twostep_required"
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert not AuditEntry.objects.filter(action="twostep_turned_off").exists()


def test_staff_may_turn_it_off_when_it_is_not_required(client: Client, settings: Any) -> None:
    settings.STAFF_REQUIRE_2FA = False
    staff = StaffFactory()
    client.force_login(staff)
    device, _codes = _set_up(client, staff)
    done = client.post(reverse("twostep_off"), {"password": PASSWORD, "token": _fresh_code(device)})
    assert done.status_code == 302
    assert not twostep.has_device(staff)
    assert AuditEntry.objects.filter(action="twostep_turned_off", actor=staff).count() == 1


def test_the_page_sends_back_when_it_is_off(client: Client) -> None:
    client.force_login(UserFactory())
    assert client.get(reverse("twostep_off"))["Location"] == reverse("security")
