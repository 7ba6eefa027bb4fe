"""A buyer files a complaint in a real browser: from the order page's button, with real image
files, through the form's checks (a fake image, an oversize file) without losing anything, a
fast-tracked small claim paid at once, and the order page after the window. Selectors are
structural (names, data attributes, hrefs), not wording, so the tests hold in either language.
Screenshots go to screenshot_dir."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from disputes.models import Dispute
from escrow.models import Payout
from orders.models import Order
from tests.disputes.factories import fund
from tests.factories import PASSWORD, CardKeyFactory, ProductFactory, UserFactory
from tests.helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def proofs(tmp_path: Path) -> dict[str, Path]:
    """Three real PNG screenshots, as a phone would send them."""
    files = {}
    for name, color in (
        ("order", (220, 60, 40)),
        ("payment", (30, 140, 80)),
        ("chat", (40, 90, 200)),
    ):
        path = tmp_path / f"{name}.png"
        Image.new("RGB", (360, 640), color).save(path, format="PNG")
        files[name] = path
    return files


def _no_horizontal_scroll(page: Any, width: int) -> bool:
    """Nothing wider than the screen. On a mobile browser innerWidth grows to fit content that
    overflows (the page is zoomed out), so compare with the width the page was laid out for."""
    return bool(page.evaluate(f"document.documentElement.scrollWidth <= {width}"))


def _log_in(page: Any, user: Any, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _attach_three(page: Any, proofs: dict[str, Path]) -> None:
    page.set_input_files("input[name=evidence_order_screenshot]", str(proofs["order"]))
    page.set_input_files("input[name=evidence_payment_proof]", str(proofs["payment"]))
    page.set_input_files("input[name=evidence_chat_record]", str(proofs["chat"]))


def test_buy_reveal_then_file_with_three_images_from_the_order_page(
    page: Any, screenshot_dir: Path, proofs: dict[str, Path]
) -> None:
    buyer = UserFactory(username="wang.fang")
    product = ProductFactory(name="王者荣耀 点券 60", price=Decimal("12.50"))
    CardKeyFactory(product=product, plain="WZRY-7Q2K-XR4P-9M3A")
    fund(product.merchant)

    _log_in(page, buyer, f"/products/{product.pk}/")
    page.click(".buy-box button[type=submit]")
    page.wait_for_url("**/pay/")
    page.click("main form button[type=submit]")
    order = Order.objects.get(buyer=buyer)
    page.wait_for_url(f"**/orders/{order.number}/")
    page.click(f'form[action="/orders/{order.number}/reveal/"] button')
    page.locator(".key-list--revealed .card-key").first.wait_for()
    panel = page.locator("#complaint-panel")
    assert "可投诉至" in panel.inner_text() and "剩余" in panel.inner_text()
    page.screenshot(path=str(screenshot_dir / "complaint-order-panel.png"), full_page=True)

    panel.locator(f'a[href="/orders/{order.number}/complain/"]').click()
    page.wait_for_url(f"**/orders/{order.number}/complain/")
    assert page.locator("input[name=reason][value=invalid_card_key]").is_checked()
    assert page.input_value("input[name=claimed_amount]") == "12.50"
    assert page.locator("[data-drop-hint]").first.is_visible()  # a mouse can drop files
    assert page.locator(".cf-checklist__item--done").count() == 0
    page.fill("textarea[name=description]", "兑换时提示：该卡密已被使用。")
    _attach_three(page, proofs)
    # The checklist is complete before anything is sent, with a preview of each image.
    assert page.locator(".cf-checklist__item--done").count() == 3
    assert page.locator("[data-previews] img.cf-file__thumb").count() == 3
    page.screenshot(path=str(screenshot_dir / "complaint-form-filled.png"), full_page=True)

    page.click("form.cf-form button[type=submit]")
    page.wait_for_url("**/complaints/TS*/")
    dispute = Dispute.objects.get(order=order)
    assert page.url.endswith(f"/complaints/{dispute.number}/")
    kinds = set(dispute.evidence.filter(role="buyer").values_list("kind", flat=True))
    assert kinds == {"order_screenshot", "payment_proof", "chat_record"}
    main = page.inner_text("main")
    assert dispute.number in main
    page.screenshot(path=str(screenshot_dir / "complaint-filed.png"), full_page=True)


def test_after_the_window_the_order_page_has_no_button_and_says_why(
    page: Any, screenshot_dir: Path
) -> None:
    order = paid_order(product=ProductFactory(name="Steam 钱包 50"))
    long_ago = timezone.now() - timedelta(hours=80)
    Order.objects.filter(pk=order.pk).update(paid_at=long_ago, delivered_at=long_ago)
    _log_in(page, order.buyer, f"/orders/{order.number}/")
    panel = page.locator("#complaint-panel")
    assert "投诉期已于" in panel.inner_text()
    assert "交付后 72 小时" in panel.inner_text() or "72" in panel.inner_text()
    assert page.locator('a[href$="/complain/"]').count() == 0
    page.screenshot(path=str(screenshot_dir / "complaint-window-closed.png"), full_page=True)


def test_a_fake_image_and_an_oversize_file_lose_nothing_and_file_once(
    page: Any, screenshot_dir: Path, proofs: dict[str, Path], tmp_path: Path
) -> None:
    order = paid_order(product=ProductFactory(name="网易一卡通 30", price=Decimal("28.00")))
    fund(order.merchant)
    fake = tmp_path / "付款截图.jpg"
    fake.write_bytes(b"GIF89a? no: just text pretending to be a photo")
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024 + 1))

    _log_in(page, order.buyer, f"/orders/{order.number}/complain/")
    page.fill("textarea[name=description]", "卡密提示无效，客服不回复。")
    page.set_input_files("input[name=evidence_order_screenshot]", str(proofs["order"]))
    page.set_input_files("input[name=evidence_chat_record]", str(proofs["chat"]))
    page.set_input_files("input[name=evidence_payment_proof]", str(fake))
    # Too large: refused in the browser, next to its own input, before anything is sent.
    page.set_input_files("input[name=evidence_other]", str(big))
    other = page.locator('[data-drop][data-kind="other"]')
    assert "huge.png" in other.locator(".field__error").inner_text()
    assert page.eval_on_selector("input[name=evidence_other]", "i => i.files.length") == 0

    page.click("form.cf-form button[type=submit]")
    page.wait_for_load_state()
    # The fake image is refused by the server, next to its kind; nothing else is lost.
    payment = page.locator('[data-drop][data-kind="payment_proof"]')
    assert "付款截图.jpg" in payment.locator(".field__error").inner_text()
    assert page.input_value("textarea[name=description]") == "卡密提示无效，客服不回复。"
    assert page.locator('[data-drop][data-kind="order_screenshot"] [data-draft-kind]').count() == 1
    assert page.locator('[data-drop][data-kind="chat_record"] [data-draft-kind]').count() == 1
    assert page.locator(".cf-checklist__item--done").count() == 2
    assert not Dispute.objects.exists()
    page.screenshot(path=str(screenshot_dir / "complaint-form-errors.png"), full_page=True)

    page.set_input_files("input[name=evidence_payment_proof]", str(proofs["payment"]))
    assert page.locator(".cf-checklist__item--done").count() == 3
    page.click("form.cf-form button[type=submit]")
    page.wait_for_url("**/complaints/TS*/")
    dispute = Dispute.objects.get()
    assert dispute.evidence.filter(role="buyer").count() == 3
    assert dispute.description == "卡密提示无效，客服不回复。"
    # Back to the form: it leads to the complaint, never to a second one.
    page.goto(f"/orders/{order.number}/complain/")
    page.wait_for_url(f"**/complaints/{dispute.number}/")
    assert Dispute.objects.count() == 1


def test_a_small_claim_is_explained_then_paid_at_once(
    page: Any, screenshot_dir: Path, proofs: dict[str, Path]
) -> None:
    buyer = UserFactory(username="zhao.lei")
    buyer.date_joined = timezone.now() - timedelta(days=60)
    buyer.save()
    order = paid_order(
        buyer=buyer, product=ProductFactory(name="QQ 会员 月卡", price=Decimal("15.00"))
    )
    fund(order.merchant)

    _log_in(page, buyer, f"/orders/{order.number}/complain/")
    fast = page.locator("[data-fast-track]")
    assert "¥100.00" in fast.inner_text() and "先行赔付" in fast.inner_text()
    missing = page.locator("[data-fast-missing]")
    assert missing.inner_text().startswith("还缺")
    _attach_three(page, proofs)
    assert "还缺" not in missing.inner_text()
    page.screenshot(path=str(screenshot_dir / "complaint-fast-track.png"), full_page=True)

    page.click("form.cf-form button[type=submit]")
    page.wait_for_url("**/complaints/TS*/")
    dispute = Dispute.objects.get(order=order)
    assert dispute.fast_track and dispute.paid_out == Decimal("15.00")
    payout = Payout.objects.get(order=order)
    assert payout.amount == 1500
    assert "¥15.00" in page.inner_text("main")
    assert "先行赔付" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "complaint-fast-tracked.png"), full_page=True)


def test_the_form_fits_a_360_px_phone(
    phone_page: Any, screenshot_dir: Path, proofs: dict[str, Path]
) -> None:
    product = ProductFactory(name="网易一卡通 30 元 × 2", price=Decimal("28.00"))
    CardKeyFactory(product=product, plain="NETEASE-1111-AAAA")
    CardKeyFactory(product=product, plain="NETEASE-2222-BBBB")
    order = paid_order(product=product, quantity=2, stock=0)
    fund(product.merchant)
    phone_page.set_viewport_size({"width": 360, "height": 780})
    _log_in(phone_page, order.buyer, f"/orders/{order.number}/")
    assert _no_horizontal_scroll(phone_page, 360)
    phone_page.screenshot(path=str(screenshot_dir / "complaint-order-phone.png"), full_page=True)
    phone_page.click(f'#complaint-panel a[href="/orders/{order.number}/complain/"]')
    phone_page.wait_for_url(f"**/orders/{order.number}/complain/")
    assert phone_page.locator("input[name=card_keys]").count() == 2
    # A touch screen has nothing to drag from: the "drop files here" hint is not shown.
    assert phone_page.locator("[data-drop-hint]").count() > 0
    assert not phone_page.locator("[data-drop-hint]").first.is_visible()
    _attach_three(phone_page, proofs)
    assert _no_horizontal_scroll(phone_page, 360)
    phone_page.screenshot(path=str(screenshot_dir / "complaint-form-phone.png"), full_page=True)


def _phone_photo(path: Path, seed: int) -> Path:
    """A 12 MP photo of about 9 MB, under the 10 MB a file may be (noise: JPEG cannot shrink
    it, as with a real photo's detail)."""
    import random

    rng = random.Random(seed)
    width, height = 4032, 3024
    noise = Image.frombytes(
        "RGB", (width // 2, height // 2), rng.randbytes(width * height * 3 // 4)
    ).resize((width, height))
    noise.save(path, format="JPEG", quality=90)
    assert 8_000_000 < path.stat().st_size < 10 * 1024 * 1024
    return path


def test_three_9_mb_phone_photos_are_scaled_down_in_the_browser_and_filed(
    phone_page: Any, screenshot_dir: Path, tmp_path: Path
) -> None:
    """Together 27 MB, more than one sending may carry (25 MB): scaled on the phone first."""
    order = paid_order(product=ProductFactory(name="网易一卡通 30", price=Decimal("28.00")))
    fund(order.merchant)
    photos = [_phone_photo(tmp_path / f"IMG_00{n}.jpg", n) for n in range(3)]
    assert sum(p.stat().st_size for p in photos) > 25 * 1024 * 1024
    phone_page.set_viewport_size({"width": 360, "height": 780})
    _log_in(phone_page, order.buyer, f"/orders/{order.number}/complain/")
    phone_page.check("input[name=reason][value=not_received]")
    phone_page.fill("input[name=claimed_amount]", "28.00")
    phone_page.fill("textarea[name=description]", "付款后一直没有收到卡密。")
    names = ("order_screenshot", "payment_proof", "chat_record")
    for name, photo in zip(names, photos, strict=True):
        phone_page.set_input_files(f"input[name=evidence_{name}]", str(photo))
    phone_page.wait_for_function(
        "() => [...document.querySelectorAll('form.cf-form input[type=file]')]"
        ".reduce((n, i) => n + i.files.length, 0) === 3"
    )
    sizes = phone_page.eval_on_selector_all(
        "form.cf-form input[type=file]",
        "inputs => inputs.flatMap(i => [...i.files].map(f => f.size))",
    )
    assert all(size < 5 * 1024 * 1024 for size in sizes), sizes
    phone_page.click("form.cf-form button[type=submit]")
    phone_page.wait_for_url("**/complaints/TS*/")
    dispute = Dispute.objects.get(order=order)
    stored = dispute.evidence.filter(role="buyer")
    assert stored.count() == 3
    assert all(e.content_type == "image/jpeg" and e.size < 5 * 1024 * 1024 for e in stored)


def test_too_much_refused_by_the_server_comes_back_as_the_form_with_the_text_kept(
    chromium: Any, live_server: Any, screenshot_dir: Path, tmp_path: Path, settings: Any
) -> None:
    """Without JavaScript nothing is scaled: the server's refusal is the form itself, in the
    site's frame, at 360 px, with what was typed."""
    from tests.browser.conftest import _new_page

    settings.MAX_REQUEST_BODY_SIZE = 12 * 1024 * 1024
    order = paid_order(product=ProductFactory(name="网易一卡通 30", price=Decimal("28.00")))
    fund(order.merchant)
    photos = [_phone_photo(tmp_path / f"IMG_10{n}.jpg", 10 + n) for n in range(2)]
    pages = _new_page(
        chromium,
        live_server,
        java_script_enabled=False,
        locale="zh-CN",
        viewport={"width": 360, "height": 780},
    )
    page = next(pages)
    try:
        _log_in(page, order.buyer, f"/orders/{order.number}/complain/")
        page.check("input[name=reason][value=not_received]")
        page.fill("input[name=claimed_amount]", "28.00")
        page.fill("textarea[name=description]", "付款后一直没有收到卡密，请处理。")
        page.set_input_files("input[name=evidence_order_screenshot]", str(photos[0]))
        page.set_input_files("input[name=evidence_payment_proof]", str(photos[1]))
        page.click("form.cf-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("form.cf-form").count() == 1
        assert page.input_value("textarea[name=description]") == "付款后一直没有收到卡密，请处理。"
        assert page.input_value("input[name=claimed_amount]") == "28.00"
        assert "12.0 MB" in page.inner_text("#evidence").replace("\xa0", " ")
        assert _no_horizontal_scroll(page, 360)
        page.screenshot(path=str(screenshot_dir / "complaint-too-much-phone.png"), full_page=True)
        assert not Dispute.objects.filter(order=order).exists()
    finally:
        next(pages, None)
