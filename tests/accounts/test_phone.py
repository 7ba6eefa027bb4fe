"""The account's mobile number, verified by an SMS code on the account and security page, and
the password reset by SMS code (docs/sms.md): codes hashed, expiring, a few tries, one use;
per-number limits; no account-existence oracle. The codes are read from the SMS sandbox's
outbox, as a person reads them from their phone."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts import tokens
from accounts.models import AccountPhone, PhoneCode
from kamen_complaints import sms
from tests.factories import PASSWORD, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = "a-much-better-pass-42"
START = "2026-11-02 10:00:05 +08:00"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _last_code(outbox, phone: str = "+8613912345678") -> str:
    return [m for m in outbox() if m["phone"] == phone][-1]["params"]["code"]


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _verified(user: User, phone: str = "+8613912345678") -> AccountPhone:
    return AccountPhone.objects.create(user=user, phone=phone, verified_at=timezone.now())


# --- Verifying the account's number -------------------------------------------------------


def test_security_page_offers_to_verify_a_number(client: Client) -> None:
    user = UserFactory()
    page = _logged_in(user).get(reverse("security"), **ZH).content.decode()
    assert "手机号" in page and reverse("phone") in page and "尚未验证" in page
    _verified(user)
    page = _logged_in(user).get(reverse("security"), **ZH).content.decode()
    assert "139****5678" in page and "13912345678" not in page


def test_a_number_is_verified_with_the_code_sent_to_it(sms_outbox, time_machine) -> None:
    time_machine.move_to(START, tick=False)
    user = UserFactory()
    client = _logged_in(user)
    sent = client.post(reverse("phone"), {"phone": "139 1234 5678"}, **ZH)
    assert sent.status_code == 302
    (message,) = sms_outbox()
    assert message["phone"] == "+8613912345678" and message["kind"] == "verify_code"
    code = message["params"]["code"]
    assert re.fullmatch(r"[0-9]{6}", code)
    # Kept only as a keyed hash.
    row = PhoneCode.objects.get(user=user)
    assert code not in row.code_hash and len(row.code_hash) == 64
    page = client.get(reverse("phone"), **ZH).content.decode()
    assert "6 位验证码已发送至 139****5678" in page
    done = client.post(reverse("phone_verify"), {"code": code}, **ZH)
    assert done.status_code == 302 and done["Location"] == reverse("security")
    account_phone = AccountPhone.objects.get(user=user)
    assert account_phone.phone == "+8613912345678"
    assert account_phone.verified_at == timezone.now()
    assert sms.verified_phone(user) == "+8613912345678"
    # Used once.
    again = client.post(reverse("phone_verify"), {"code": code}, **ZH)
    assert again.status_code == 400 and "验证码错误或已过期" in again.content.decode()


def test_a_number_of_the_wrong_shape_is_refused_in_words(sms_outbox) -> None:
    client = _logged_in(UserFactory())
    page = client.post(reverse("phone"), {"phone": "12345"}, **ZH)
    assert page.status_code == 400
    assert "请输入以 1 开头的 11 位中国大陆手机号。" in page.content.decode()
    assert sms_outbox() == []


def test_wrong_codes_are_counted_and_the_fifth_ends_the_code(sms_outbox, time_machine) -> None:
    time_machine.move_to(START, tick=False)
    user = UserFactory()
    client = _logged_in(user)
    client.post(reverse("phone"), {"phone": "13912345678"})
    code = _last_code(sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    for n in range(1, 6):
        page = client.post(reverse("phone_verify"), {"code": wrong}, **ZH)
        assert page.status_code == 400 and "验证码错误或已过期" in page.content.decode()
        assert PhoneCode.objects.get(user=user).attempts == n
    # The right code, too late: the code is spent.
    assert client.post(reverse("phone_verify"), {"code": code}).status_code == 400
    assert not AccountPhone.objects.filter(user=user).exists()


def test_a_code_expires_after_ten_minutes(sms_outbox, time_machine) -> None:
    time_machine.move_to(START, tick=False)
    user = UserFactory()
    client = _logged_in(user)
    client.post(reverse("phone"), {"phone": "13912345678"})
    code = _last_code(sms_outbox)
    time_machine.move_to(timezone.now() + timedelta(minutes=10), tick=False)
    assert client.post(reverse("phone_verify"), {"code": code}).status_code == 400
    assert not AccountPhone.objects.filter(user=user).exists()


def test_codes_to_one_number_are_limited_per_minute(sms_outbox, time_machine) -> None:
    time_machine.move_to(START, tick=False)
    first, second = _logged_in(UserFactory()), _logged_in(UserFactory())
    assert first.post(reverse("phone"), {"phone": "13912345678"}).status_code == 302
    # Whoever asks: another account, the same number.
    refused = second.post(reverse("phone"), {"phone": "13912345678"}, **ZH)
    assert refused.status_code == 429 and refused["Retry-After"] == "55"
    assert "该手机号接收的短信已达上限，请 55 秒后再试。" in refused.content.decode()
    assert len(sms_outbox()) == 1
    time_machine.move_to(timezone.now() + timedelta(minutes=1), tick=False)
    assert second.post(reverse("phone"), {"phone": "13912345678"}).status_code == 302


def test_a_failing_provider_keeps_nothing_and_says_so(settings, sms_outbox) -> None:
    settings.SMS_PROVIDER = "tencent"
    settings.SMS_SIGN_NAME = "卡门投诉"
    settings.TENCENT_SMS_SECRET_ID = "id"
    settings.TENCENT_SMS_SECRET_KEY = "key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    settings.TENCENT_SMS_ENDPOINT = "http://127.0.0.1:9"  # nothing listens on the discard port
    user = UserFactory()
    page = _logged_in(user).post(reverse("phone"), {"phone": "13912345678"}, **ZH)
    assert page.status_code == 503 and "短信暂时无法发送" in page.content.decode()
    assert not PhoneCode.objects.filter(user=user).exists()


def test_proving_a_number_moves_it_from_another_account(sms_outbox) -> None:
    before = UserFactory()
    _verified(before)
    after = UserFactory()
    client = _logged_in(after)
    client.post(reverse("phone"), {"phone": "13912345678"})
    client.post(reverse("phone_verify"), {"code": _last_code(sms_outbox)})
    assert sms.verified_phone(after) == "+8613912345678"
    assert sms.verified_phone(before) is None


def test_a_shop_owner_is_offered_the_shop_number_and_sees_it_on_verification(sms_outbox) -> None:
    merchant = MerchantFactory(phone="13700137000")
    owner = _logged_in(merchant.owner)
    page = owner.get(reverse("phone"), **ZH).content.decode()
    assert 'value="13700137000"' in page
    verification = owner.get(reverse("merchant:verification"), **ZH).content.decode()
    assert "接收短信的手机号" in verification and "未验证" in verification
    owner.post(reverse("phone"), {"phone": "13700137000"})
    owner.post(reverse("phone_verify"), {"code": _last_code(sms_outbox, "+8613700137000")})
    verification = owner.get(reverse("merchant:verification"), **ZH).content.decode()
    assert "137****7000（已通过短信验证）" in verification


def test_removing_the_number(client: Client) -> None:
    user = UserFactory()
    _verified(user)
    done = _logged_in(user).post(reverse("phone_remove"))
    assert done.status_code == 302
    assert sms.verified_phone(user) is None


# --- Password reset by SMS code -----------------------------------------------------------


def test_forgotten_password_page_offers_the_sms_reset(client: Client) -> None:
    page = client.get(reverse("password_reset"), **ZH).content.decode()
    assert reverse("password_reset_sms") in page and "改用短信验证码重置" in page


def test_sms_reset_with_the_right_code_sets_the_password(sms_outbox, client: Client) -> None:
    user = UserFactory()
    _verified(user)
    token, _expiry = tokens.token_issue(user=user)
    asked = client.post(reverse("password_reset_sms"), {"phone": "13912345678"})
    assert asked.status_code == 302 and asked["Location"] == reverse("password_reset_sms_code")
    (message,) = sms_outbox()
    assert message["kind"] == "reset_code" and message["phone"] == "+8613912345678"
    code_page = client.get(reverse("password_reset_sms_code"))
    assert 'value="13912345678"' in code_page.content.decode()  # the number asked for
    done = client.post(
        reverse("password_reset_sms_code"),
        {
            "phone": "13912345678",
            "code": message["params"]["code"],
            "new_password1": NEW,
            "new_password2": NEW,
        },
    )
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert not AuthToken.objects.filter(user=user).exists()  # the password change ended them
    assert Client().login(username=user.username, password=NEW)
    # The code is used up.
    again = client.post(
        reverse("password_reset_sms_code"),
        {
            "phone": "13912345678",
            "code": message["params"]["code"],
            "new_password1": "another-pass-77",
            "new_password2": "another-pass-77",
        },
    )
    assert again.status_code == 400


def test_sms_reset_wrong_codes_count_and_a_weak_password_keeps_the_code(
    sms_outbox, client: Client
) -> None:
    user = UserFactory()
    _verified(user)
    client.post(reverse("password_reset_sms"), {"phone": "13912345678"})
    code = _last_code(sms_outbox)
    form = {"phone": "13912345678", "new_password1": NEW, "new_password2": NEW}
    wrong = client.post(
        reverse("password_reset_sms_code"),
        {**form, "code": "000000" if code != "000000" else "111111"},
        **ZH,
    )
    assert wrong.status_code == 400 and "验证码错误或已过期" in wrong.content.decode()
    assert PhoneCode.objects.get(user=user, purpose="reset").attempts == 1
    weak = client.post(
        reverse("password_reset_sms_code"),
        {**form, "code": code, "new_password1": "12345678", "new_password2": "12345678"},
        **ZH,
    )
    assert weak.status_code == 400 and "验证码错误" not in weak.content.decode()
    assert PhoneCode.objects.get(user=user, purpose="reset").attempts == 1
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    good = client.post(reverse("password_reset_sms_code"), {**form, "code": code})
    assert good.status_code == 302


def test_sms_reset_has_no_account_existence_oracle(sms_outbox) -> None:
    _verified(UserFactory(), "+8613912345678")
    answers = {}
    for phone in ("13912345678", "13987654321"):
        client = Client()
        asked = client.post(reverse("password_reset_sms"), {"phone": phone}, follow=True, **ZH)
        page = re.sub(r'value="[^"]{64}"', "", asked.content.decode())  # the CSRF tokens
        page = page.replace(phone, "NUMBER")
        wrong = client.post(
            reverse("password_reset_sms_code"),
            {"phone": phone, "code": "000000", "new_password1": NEW, "new_password2": NEW},
            **ZH,
        )
        wrong_page = re.sub(r'value="[^"]{64}"', "", wrong.content.decode()).replace(
            phone, "NUMBER"
        )
        answers[phone] = (
            asked.status_code,
            asked.redirect_chain,
            page,
            wrong.status_code,
            wrong_page,
        )
    assert answers["13912345678"] == answers["13987654321"]
    assert [m["phone"] for m in sms_outbox()] == ["+8613912345678"]  # only the known number
    # The request never looks the number up: it hands the worker the same task either way.
    handed: list[dict[str, object]] = []
    with mock.patch("accounts.phone_views.enqueue", lambda task, **kw: handed.append(kw)):
        for phone in ("13812345678", "13887654321"):
            with CaptureQueriesContext(connection) as queries:
                Client().post(reverse("password_reset_sms"), {"phone": phone})
            assert not [q for q in queries if "accounts_" in q["sql"] or "auth_user" in q["sql"]]
    assert handed == [{"phone": "+8613812345678"}, {"phone": "+8613887654321"}]


def test_sms_reset_is_throttled_per_number_known_or_not(sms_outbox, time_machine) -> None:
    time_machine.move_to(START, tick=False)
    _verified(UserFactory(), "+8613912345678")
    for phone in ("13912345678", "13987654321"):
        assert Client().post(reverse("password_reset_sms"), {"phone": phone}).status_code == 302
        refused = Client(REMOTE_ADDR="10.0.0.9").post(
            reverse("password_reset_sms"), {"phone": phone}, **ZH
        )
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert "该手机号接收的短信已达上限" in refused.content.decode()
    assert len(sms_outbox()) == 1


def test_sms_reset_is_throttled_per_client(settings, sms_outbox) -> None:
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["password_reset_ip"] = "2/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client = Client()
    for n in range(2):
        assert (
            client.post(reverse("password_reset_sms"), {"phone": f"1391234567{n}"}).status_code
            == 302
        )
    assert client.post(reverse("password_reset_sms"), {"phone": "13912345679"}).status_code == 429


def test_an_account_without_a_verified_number_gets_no_reset_code(sms_outbox, client) -> None:
    UserFactory()
    client.post(reverse("password_reset_sms"), {"phone": "13912345678"})
    assert sms_outbox() == []
