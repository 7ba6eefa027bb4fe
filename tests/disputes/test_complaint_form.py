"""Filing a complaint in the browser's form (/orders/<number>/complain/) and the order page's
complaint panel: errors next to their fields, nothing typed or uploaded lost, drafts reused on
resubmit, permissions, and what the order page says in each state."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from disputes.drafts import DRAFT_TTL, purge_expired_drafts
from disputes.models import Dispute, Status
from orders.models import OrderStatus
from tests.disputes.factories import file, funded_order, png, png_bytes
from tests.factories import CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(order: Any) -> str:
    return f"/orders/{order.number}/complain/"


def _field_block(html: str, name: str) -> str:
    """The markup of the form field (or fieldset) holding the input `name`, up to the next
    field: what a buyer sees next to it."""
    at = html.index(f'name="{name}"')
    starts = [m.start() for m in _FIELD_START.finditer(html, 0, at)]
    ends = [m.start() for m in _FIELD_START.finditer(html, at)] + [html.index("</form>")]
    return html[starts[-1] : ends[0]]


_FIELD_START = re.compile(r'<div class="field[ "]|<fieldset|<aside')


def _three_proofs() -> dict[str, Any]:
    return {
        "evidence_order_screenshot": png("order.png"),
        "evidence_payment_proof": png("payment.png", color=(0, 120, 0)),
        "evidence_chat_record": [png("chat1.png"), png("chat2.png", color=(0, 0, 200))],
    }


def _fake_jpeg() -> SimpleUploadedFile:
    return SimpleUploadedFile("receipt.jpg", b"this is not an image at all", "image/jpeg")


# --- Permissions ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in():
    order = funded_order()
    response = Client().get(_url(order))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_another_buyers_order_is_a_404_for_the_form_the_post_and_the_drafts():
    order = funded_order()
    stranger = _client(UserFactory())
    assert stranger.get(_url(order)).status_code == 404
    data = {"reason": "other", "claimed_amount": "1.00", **_three_proofs()}
    assert stranger.post(_url(order), data).status_code == 404
    assert stranger.get(f"/orders/{order.number}/complain/draft/abc123/").status_code == 404
    assert not Dispute.objects.exists()


# --- The form ------------------------------------------------------------------------------


def test_the_form_explains_reasons_fast_track_and_evidence_with_the_amount_prefilled():
    order = funded_order(price=Decimal("48.00"))
    response = _client(order.buyer).get(_url(order), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('type="radio" name="reason"') == 6
    assert "already used" in html  # one line under "the card key does not work"
    assert 'name="claimed_amount" value="48.00"' in html
    assert "Claims up to ¥100.00 with all three proofs are paid at once" in html
    for kind in ("order_screenshot", "payment_proof", "chat_record"):
        block = _field_block(html, f"evidence_{kind}")
        assert "multiple" in block and 'accept="image/*,application/pdf"' in block
    assert "Alipay or WeChat Pay" in html  # how to get a payment proof
    assert 'name="card_keys"' not in html  # one key: nothing to choose
    assert "/static/js/complaint_form.js" in html


def test_the_form_speaks_chinese_by_default():
    order = funded_order()
    html = _client(order.buyer).get(_url(order)).content.decode()
    assert "三证齐全" in html or "先行赔付" in html
    assert "申请售后" in html


def test_a_multi_key_order_lists_its_keys_masked_to_tick():
    product = ProductFactory()
    CardKeyFactory(product=product, plain="WZRY-AAAA-1111")
    CardKeyFactory(product=product, plain="WZRY-BBBB-2222")
    order = paid_order(product=product, quantity=2, stock=0)
    from tests.disputes.factories import fund

    fund(product.merchant)
    client = _client(order.buyer)
    html = client.get(_url(order)).content.decode()
    assert html.count('name="card_keys"') == 2
    assert "****1111" in html and "****2222" in html
    assert "WZRY-AAAA" not in html
    second = order.card_keys.get(tail="2222")
    response = client.post(
        _url(order),
        {"reason": "invalid_card_key", "claimed_amount": "20.00", "card_keys": [second.pk]},
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(order=order)
    assert list(dispute.card_keys.all()) == [second]


def test_filing_with_three_proofs_redirects_to_the_complaint_and_is_fast_tracked():
    order = funded_order(price=Decimal("48.00"))
    order.buyer.date_joined = timezone.now() - timedelta(days=30)
    order.buyer.save()
    client = _client(order.buyer)
    response = client.post(
        _url(order),
        {
            "reason": "invalid_card_key",
            "claimed_amount": "48.00",
            "description": "已被使用",
            **_three_proofs(),
        },
    )
    dispute = Dispute.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == f"/complaints/{dispute.number}/"
    kinds = sorted(dispute.evidence.filter(role="buyer").values_list("kind", flat=True))
    assert kinds == ["chat_record", "chat_record", "order_screenshot", "payment_proof"]
    assert dispute.description == "已被使用"
    assert dispute.fast_track and dispute.paid_out == Decimal("48.00")
    assert not list(Path(settings.MEDIA_ROOT, "drafts").glob("*/*"))  # the draft is gone


def test_an_amount_error_is_next_to_its_field_and_nothing_is_lost_then_one_complaint():
    order = funded_order(price=Decimal("48.00"))
    client = _client(order.buyer)
    response = client.post(
        _url(order),
        {
            "reason": "not_received",
            "claimed_amount": "480.00",
            "description": "付款后一直没有收到卡密",
            **_three_proofs(),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "at most ¥48.00" in _field_block(html, "claimed_amount")
    assert "付款后一直没有收到卡密" in html
    assert re.search(r'<input type="radio" name="reason" value="not_received"[^>]* checked', html)
    # Every accepted file is still attached, each with a remove box, and none was re-uploaded.
    assert html.count('name="remove_draft"') == 4
    for name in ("order.png", "payment.png", "chat1.png", "chat2.png"):
        assert name in html
    assert not Dispute.objects.exists()

    response = client.post(
        _url(order), {"reason": "not_received", "claimed_amount": "48.00", "description": "x"}
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(order=order)
    assert dispute.evidence.filter(role="buyer").count() == 4
    response = client.post(_url(order), {"reason": "not_received", "claimed_amount": "48.00"})
    assert response.status_code == 302  # the form now leads to the complaint
    assert response["Location"] == f"/complaints/{dispute.number}/"
    assert Dispute.objects.filter(order=order).count() == 1


def test_a_bad_file_is_named_next_to_its_kind_and_the_good_ones_are_kept():
    order = funded_order()
    client = _client(order.buyer)
    response = client.post(
        _url(order),
        {
            "reason": "other",
            "claimed_amount": "10.00",
            "description": "keep me",
            "evidence_order_screenshot": png("order.png"),
            "evidence_payment_proof": _fake_jpeg(),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert response.status_code == 400
    block = _field_block(html, "evidence_payment_proof")
    assert "receipt.jpg" in block and "field__error" in block
    assert "field__error" not in _field_block(html, "evidence_order_screenshot")
    assert "order.png" in html and "keep me" in html
    assert html.count('name="remove_draft"') == 1  # the bad file was not kept
    assert not Dispute.objects.exists()


def test_an_oversize_file_is_refused_next_to_its_kind(settings):
    from disputes.models import Policy

    Policy.objects.filter(product_kind="").update(max_evidence_bytes=2048)
    order = funded_order()
    big = SimpleUploadedFile("big.png", png_bytes(200, 200) + b"\0" * 4096, "image/png")
    response = _client(order.buyer).post(
        _url(order),
        {"reason": "other", "claimed_amount": "10.00", "evidence_chat_record": big},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    block = _field_block(response.content.decode(), "evidence_chat_record")
    assert "big.png" in block and "KB" in block


def test_removing_a_draft_file_leaves_it_out_of_the_complaint():
    order = funded_order()
    client = _client(order.buyer)
    client.post(
        _url(order),
        {"reason": "other", "claimed_amount": "0", **_three_proofs()},
    )
    html = client.get(_url(order)).content.decode()
    ids = re.findall(r'name="remove_draft" value="([0-9a-f]+)"', html)
    assert len(ids) == 4
    response = client.post(
        _url(order), {"reason": "other", "claimed_amount": "5.00", "remove_draft": ids[:2]}
    )
    assert response.status_code == 302
    assert Dispute.objects.get().evidence.filter(role="buyer").count() == 2


def test_a_draft_file_is_shown_to_its_uploader_only():
    order = funded_order()
    client = _client(order.buyer)
    client.post(_url(order), {"reason": "other", "claimed_amount": "0", **_three_proofs()})
    html = client.get(_url(order)).content.decode()
    src = re.search(r'src="(/orders/[^"]+/complain/draft/[0-9a-f]+/)"', html).group(1)
    response = client.get(src)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    # The same buyer in another session (another browser) has no such draft.
    assert _client(order.buyer).get(src).status_code == 404


def test_drafts_expire():
    order = funded_order()
    client = _client(order.buyer)
    client.post(_url(order), {"reason": "other", "claimed_amount": "0", **_three_proofs()})
    assert len(list(Path(settings.MEDIA_ROOT, "drafts").glob("*/*"))) == 4
    assert purge_expired_drafts() == 0
    assert purge_expired_drafts(now=timezone.now() + DRAFT_TTL + timedelta(minutes=1)) == 4
    assert not list(Path(settings.MEDIA_ROOT, "drafts").glob("*/*"))


@pytest.mark.parametrize(
    ("setup", "code_text"),
    [
        ("window_closed", "closed"),
        ("complaint_exists", None),
    ],
)
def test_form_level_refusals(setup, code_text, time_machine):
    order = funded_order()
    client = _client(order.buyer)
    if setup == "window_closed":
        time_machine.move_to(order.delivered_at + timedelta(hours=73))
        response = client.get(_url(order), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert "closed" in response.content.decode()
        assert 'name="claimed_amount"' not in response.content.decode()
        response = client.post(
            _url(order), {"reason": "other", "claimed_amount": "1.00"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        assert "form-errors" in response.content.decode()
        assert not Dispute.objects.exists()
    else:
        dispute = file(order)
        response = client.get(_url(order))
        assert response.status_code == 302
        assert response["Location"] == f"/complaints/{dispute.number}/"


def test_refused_attempts_do_not_use_up_the_filing_limit(settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["filing_user"] = "1/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    order = funded_order()
    client = _client(order.buyer)
    for _ in range(3):
        response = client.post(_url(order), {"reason": "other", "claimed_amount": "999.00"})
        assert response.status_code == 400
    response = client.post(_url(order), {"reason": "other", "claimed_amount": "9.00"})
    assert response.status_code == 302
    # The one accepted filing used the limit: the next order's filing waits.
    other = funded_order(buyer=order.buyer)
    response = client.post(_url(other), {"reason": "other", "claimed_amount": "9.00"})
    assert response.status_code == 429
    assert response.has_header("Retry-After")
    assert Dispute.objects.count() == 1


# --- The order page's complaint panel --------------------------------------------------------


def _order_page(order: Any, **kwargs: Any) -> str:
    response = _client(order.buyer).get(
        f"/orders/{order.number}/", HTTP_ACCEPT_LANGUAGE="en", **kwargs
    )
    assert response.status_code == 200
    return response.content.decode()


def test_order_page_shows_the_window_as_a_countdown_and_the_button(time_machine):
    order = funded_order()
    time_machine.move_to(order.delivered_at + timedelta(hours=3, minutes=1))
    html = _order_page(order)
    panel = html[html.index('id="complaint-panel"') :]
    closes = timezone.localtime(order.delivered_at + timedelta(hours=72)).strftime("%m-%d %H:%M")
    assert f"You may complain until {closes} · 2 d 20 h left" in panel
    assert "<progress" in panel
    assert f'href="/orders/{order.number}/complain/"' in panel


def test_order_page_shows_the_complaint_its_status_clock_and_link():
    order = funded_order()
    dispute = file(order)
    html = _order_page(order)
    panel = html[html.index('id="complaint-panel"') :]
    assert f'href="/complaints/{dispute.number}/"' in panel
    assert "badge--awaiting_merchant" in panel
    assert "data-countdown" in panel
    assert f'href="/orders/{order.number}/complain/"' not in html


def test_order_page_after_the_window_has_no_button_and_says_why(time_machine):
    order = funded_order()
    time_machine.move_to(order.delivered_at + timedelta(hours=80))
    html = _order_page(order)
    closes = timezone.localtime(order.delivered_at + timedelta(hours=72)).strftime("%m-%d %H:%M")
    assert f"The complaint window for this order closed on {closes} (72 h after delivery)" in html
    assert "/complain/" not in html


def test_order_page_of_a_fully_refunded_order_says_so_instead_of_a_button():
    from orders.models import Order

    order = funded_order()
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=order.amount, status=OrderStatus.REFUNDED
    )
    order.refresh_from_db()
    html = _order_page(order)
    assert "refunded in full" in html
    assert "/complain/" not in html


def test_order_page_of_an_unpaid_order_has_no_panel():
    from orders import services as order_services

    product = ProductFactory()
    CardKeyFactory(product=product)
    order = order_services.order_create(buyer=UserFactory(), product=product, quantity=1)
    assert 'id="complaint-panel"' not in _order_page(order)


def test_the_reveal_box_says_each_reveal_is_recorded_not_shown_once():
    order = funded_order()
    response = _client(order.buyer).post(
        f"/orders/{order.number}/reveal/", HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    html = response.content.decode()
    assert "Shown once" not in html
    assert "Each reveal is recorded" in html


def test_a_withdrawn_complaint_leaves_the_button_for_a_new_one():
    from disputes import services

    order = funded_order(price=Decimal("480.00"))
    dispute = file(order)
    services.dispute_withdraw(dispute=dispute, buyer=order.buyer)
    assert Dispute.objects.get().status == Status.WITHDRAWN
    html = _order_page(order)
    assert f'href="/orders/{order.number}/complain/"' in html
    assert dispute.number in html


def test_an_unpaid_order_goes_back_to_its_page():
    from orders import services as order_services

    product = ProductFactory()
    CardKeyFactory(product=product)
    order = order_services.order_create(buyer=UserFactory(), product=product, quantity=1)
    response = _client(order.buyer).get(_url(order))
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.number}/"


# --- The fast-track box says what the filing rule decides (issue 19) ------------------------


def test_a_three_day_old_account_with_the_three_proofs_is_never_promised_the_fast_track():
    order = funded_order(price=Decimal("48.00"))
    order.buyer.date_joined = timezone.now() - timedelta(days=3)
    order.buyer.save()
    client = _client(order.buyer)
    html = client.get(_url(order), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    fast = html[html.index("data-fast-track") : html.index("</aside>")]
    assert "Not eligible for the fast track" in fast
    assert "<li>your account is less than 7 days old</li>" in fast
    assert "paid at once when you submit" not in fast and "data-fast-missing" not in fast
    # The three proofs attached and the amount refused: the form comes back, still no promise.
    response = client.post(
        _url(order),
        {"reason": "other", "claimed_amount": "480.00", **_three_proofs()},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    fast = html[html.index("data-fast-track") : html.index("</aside>")]
    assert "Not eligible for the fast track" in fast and "paid at once when" not in fast
    zh = client.get(_url(order)).content.decode()
    assert "账号注册未满 7 天" in zh[zh.index("data-fast-track") :]
    # Filed with the three proofs: the server agrees and nothing is paid.
    client.post(_url(order), {"reason": "other", "claimed_amount": "48.00", **_three_proofs()})
    dispute = Dispute.objects.get(order=order)
    assert not dispute.fast_track and dispute.paid_out == Decimal("0")


def test_an_eligible_account_is_told_which_proofs_are_still_missing():
    order = funded_order(price=Decimal("48.00"))
    order.buyer.date_joined = timezone.now() - timedelta(days=30)
    order.buyer.save()
    client = _client(order.buyer)
    html = client.get(_url(order), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    fast = html[html.index("data-fast-track") : html.index("</aside>")]
    assert "Your account is eligible" in fast and "Not eligible" not in fast
    missing = "<span>order screenshot</span><span>payment proof</span><span>chat record</span>"
    assert "Still missing:" in fast and missing in fast
    response = client.post(
        _url(order),
        {
            "reason": "other",
            "claimed_amount": "",
            "evidence_order_screenshot": png("order.png"),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    fast = html[html.index("data-fast-track") : html.index("</aside>")]
    assert "<span>payment proof</span><span>chat record</span>" in fast
    assert "<span>order screenshot</span>" not in fast
