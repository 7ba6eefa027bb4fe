"""`manage.py seed_demo`: the demo marketplace every new user starts from."""

from __future__ import annotations

import ast
import hashlib
import io
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from disputes import services as dispute_services
from disputes.demo import collective as demo_collective
from disputes.demo.catalogue import ADMIN, ARBITER, BUYERS, DEMO_PASSWORD, SHOPS, demo_logins
from disputes.demo.complaints import COMPLAINTS
from disputes.demo.pictures import minimal_pdf
from disputes.models import (
    BlacklistEntry,
    CollectiveCase,
    DecidedBy,
    Dispute,
    EventType,
    Evidence,
    EvidenceKind,
    Outcome,
    Status,
)
from disputes.permissions import is_arbitrator
from escrow.selectors import deposit_summary
from kamen_complaints.errors import DomainError
from orders import crypto, services
from orders.models import (
    CardKey,
    CardKeyStatus,
    DuplicateKeyFlag,
    Merchant,
    MerchantStatus,
    Order,
    OrderStatus,
    Product,
    ProductKind,
)
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The seed hashes a password per demo account; PBKDF2 would make each test seconds slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Every table of every app: a second run must leave all of them as they were."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if not model._meta.proxy and model._meta.managed
    }


@pytest.mark.django_db
def test_seed_demo_builds_verified_shops_selling_every_kind_of_product():
    seed()
    merchants = Merchant.objects.all()
    assert 2 <= merchants.count() <= 3
    for merchant in merchants:
        assert merchant.status == MerchantStatus.ACTIVE
        assert merchant.verified_by.username == ADMIN.username
        assert merchant.reverification_due > merchant.verified_at
        # A real identity number: encrypted at rest, valid checksum once decrypted.
        clear = crypto.decrypt(merchant.id_number_encrypted)
        assert services.validate_id_number(clear) == clear
        assert clear not in merchant.id_number_encrypted
    kinds = set(Product.objects.values_list("kind", flat=True))
    assert kinds == set(ProductKind.values)
    # Every card product on sale has stock (the demo's collective case took its lot off sale).
    for product in Product.objects.exclude(kind=ProductKind.PHONE_TOPUP).filter(active=True):
        assert product.card_keys.filter(status=CardKeyStatus.AVAILABLE).exists(), product.name


def test_seed_demo_identity_numbers_pass_the_checksum():
    for shop in SHOPS:
        assert services.validate_id_number(shop.id_number) == shop.id_number


@pytest.mark.django_db
def test_seed_demo_orders_are_paid_and_delivered_through_the_services():
    seed()
    orders = Order.objects.all()
    delivered = orders.filter(status=OrderStatus.DELIVERED)
    assert delivered.filter(product__kind=ProductKind.PHONE_TOPUP).exists()
    card_key_orders = delivered.exclude(product__kind=ProductKind.PHONE_TOPUP)
    assert card_key_orders.count() >= 3
    for order in card_key_orders:
        # A complaint settled by a replacement key added one key to its order.
        replaced = order.disputes.filter(outcome=Outcome.REPLACED).count()
        assert order.card_keys.count() == order.quantity + replaced
        assert order.payment_reference
        assert order.paid_at and order.delivered_at
    # Every delivered key belongs to a delivered order: the ones bought, and one replacement.
    delivered_keys = CardKey.objects.filter(status=CardKeyStatus.DELIVERED)
    replacements = Dispute.objects.filter(outcome=Outcome.REPLACED).count()
    assert replacements == 1
    assert delivered_keys.count() == sum(o.quantity for o in card_key_orders) + replacements
    # A buyer sees their own keys in clear on request.
    order = card_key_orders.first()
    keys = services.order_reveal_keys(order=order, user=order.buyer)
    assert len(keys) == order.quantity
    assert all(
        k.endswith(ck.tail) for k, ck in zip(keys, order.card_keys.order_by("id"), strict=True)
    )


@pytest.mark.django_db
def test_seed_demo_makes_a_superuser_and_an_arbitrator_who_is_staff_but_not_superuser():
    seed()
    admin = User.objects.get(username=ADMIN.username)
    assert admin.is_staff and admin.is_superuser
    arbiter = User.objects.get(username=ARBITER.username)
    assert arbiter.is_staff
    assert not arbiter.is_superuser
    assert is_arbitrator(arbiter)
    assert arbiter.has_perm("disputes.manage_blacklist")
    for buyer in BUYERS:
        user = User.objects.get(username=buyer.username)
        assert not user.is_staff
        assert not Merchant.objects.filter(members__user=user).exists()


@pytest.mark.django_db
def test_the_seeded_arbiter_is_in_its_role_and_opens_the_second_approval_queue(client):
    """The case screen links the arbitrator to the four-eyes queue: the seeded one, in the
    `arbitrator` group (kamen_complaints/roles.py), can open it — after a second run too."""
    seed()
    seed()
    arbiter = User.objects.get(username=ARBITER.username)
    assert list(arbiter.groups.values_list("name", flat=True)) == ["arbitrator"]
    assert client.login(username=ARBITER.username, password=DEMO_PASSWORD)
    queue = client.get(reverse("admin:kamen_complaints_approval_changelist"))
    assert queue.status_code == 200


@pytest.mark.django_db
def test_every_printed_demo_login_works_with_its_password():
    output = seed()
    for login in demo_logins():
        assert re.search(rf"^\s*{login.username}\s+{re.escape(login.password)}\s", output, re.M)
        assert authenticate(username=login.username, password=login.password) is not None


def stored_files() -> list[str]:
    return sorted(str(p) for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def ledger_report() -> str:
    out = StringIO()
    call_command("check_ledger", stdout=out)  # raises CommandError on a breach
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing_and_says_so():
    seed()
    before = row_counts()
    files = stored_files()
    assert before["disputes.Dispute"] == len(COMPLAINTS) + demo_collective.COMPLAINTS
    output = seed()
    assert "nothing changed" in output
    assert row_counts() == before
    assert stored_files() == files
    assert not DuplicateKeyFlag.objects.exists()
    assert "ledger clean" in ledger_report()


# --- Complaints -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_files_complaints_in_every_status_with_every_outcome_and_decider():
    seed()
    complaints = Dispute.objects.all()
    # The scripted complaints, and the three that opened the demo's collective case.
    assert complaints.count() == len(COMPLAINTS) + demo_collective.COMPLAINTS
    assert set(complaints.values_list("status", flat=True)) == set(Status.values)
    resolved = complaints.filter(status=Status.RESOLVED)
    assert set(resolved.values_list("outcome", flat=True)) == set(Outcome.values)
    assert set(resolved.values_list("decided_by", flat=True)) == set(DecidedBy.values)
    # Realistic complaints: a Chinese description and evidence from the buyer on each.
    for dispute in complaints:
        assert re.search(r"[\u4e00-\u9fff]", dispute.description), dispute.number
        assert dispute.evidence.filter(role="buyer").exists(), dispute.number
        assert dispute.events.filter(type=EventType.FILED).count() == 1


@pytest.mark.django_db
def test_seed_demo_complaints_show_every_path_of_the_state_machine():
    seed()
    # Awaiting the merchant: a fresh one, and a small claim the platform fast tracked (paid).
    fresh = Dispute.objects.get(status=Status.AWAITING_MERCHANT, fast_track=False)
    assert fresh.paid_out == 0 and fresh.merchant_response_due
    fast = Dispute.objects.get(fast_track=True)
    assert fast.status == Status.AWAITING_MERCHANT
    assert fast.claimed_amount <= Decimal("100.00")
    assert fast.paid_out == fast.claimed_amount
    assert fast.events.filter(type=EventType.FAST_TRACKED).exists()
    # Awaiting the buyer: an offer below the claim.
    offered = Dispute.objects.get(status=Status.AWAITING_BUYER)
    assert 0 < offered.offer_amount < offered.claimed_amount
    assert offered.buyer_response_due
    # Under review: contested with the merchant's counter-evidence; one paused for information
    # from the buyer; one appealed after a ruling.
    reviews = Dispute.objects.filter(status=Status.UNDER_REVIEW)
    contested = reviews.filter(appealed_at__isnull=True, review_paused_at__isnull=True)
    assert contested.filter(evidence__role="merchant").exists()
    paused = reviews.get(review_paused_at__isnull=False)
    assert paused.info_requested_from == "buyer" and paused.info_due
    appealed = reviews.get(appealed_at__isnull=False)
    assert appealed.appealed_by == "buyer" and appealed.events.filter(type=EventType.RULED)
    # Resolved by the clock: a silent merchant loses by default (recovered from its deposit);
    # a missed review deadline makes the platform pay first, recovery still to decide.
    default = Dispute.objects.get(events__type=EventType.DEFAULT_JUDGMENT)
    assert default.outcome == Outcome.REFUNDED and default.decided_by == DecidedBy.SYSTEM
    assert default.paid_out == default.recovered == default.claimed_amount
    first = Dispute.objects.get(events__type=EventType.REVIEW_EXPIRED)
    assert first.status == Status.RESOLVED and first.recovery_pending
    assert first.paid_out == first.claimed_amount and first.recovered == 0
    # Resolved by the parties.
    assert Dispute.objects.get(outcome=Outcome.PARTIALLY_REFUNDED, decided_by=DecidedBy.BUYER)
    refunded = Dispute.objects.get(outcome=Outcome.REFUNDED, decided_by=DecidedBy.MERCHANT)
    assert refunded.paid_out == refunded.recovered == refunded.claimed_amount
    assert Dispute.objects.get(outcome=Outcome.REPLACED).events.filter(type=EventType.KEY_REPLACED)
    assert Dispute.objects.get(outcome=Outcome.REJECTED, decided_by=DecidedBy.STAFF)
    assert Dispute.objects.get(status=Status.WITHDRAWN).paid_out == 0


@pytest.mark.django_db
def test_seed_demo_blacklists_the_buyer_whose_third_complaint_was_ruled_malicious():
    seed()
    buyer = User.objects.get(username=BUYERS[-1].username)
    assert Dispute.objects.filter(buyer=buyer, outcome=Outcome.REJECTED_MALICIOUS).count() == 3
    entry = BlacklistEntry.objects.get(user=buyer)
    assert entry.is_active() and entry.source == "automatic"
    # The entry bites: this buyer's next complaint is refused.
    order = Order.objects.filter(buyer=buyer).first()
    with pytest.raises(DomainError) as refused:
        dispute_services.dispute_file(
            buyer=buyer, order=order, reason="other", claimed_amount=Decimal("1.00")
        )
    assert refused.value.code == "blacklisted"
    # Nobody else is blacklisted.
    assert BlacklistEntry.objects.count() == 1


@pytest.mark.django_db
def test_seed_demo_money_balances_and_every_shop_stays_open():
    seed()
    assert "ledger clean" in ledger_report()
    for merchant in Merchant.objects.all():
        assert merchant.status == MerchantStatus.ACTIVE, merchant.shop_name
        summary = deposit_summary(merchant)
        assert summary.receivable == 0
        assert summary.balance >= summary.minimum
    # Each shop's deposit paid back what its complaints recovered, and nothing else.
    for shop in SHOPS:
        merchant = Merchant.objects.get(shop_name=shop.shop_name)
        recovered = sum(d.recovered for d in Dispute.objects.filter(merchant=merchant))
        # and what its collective case recovered for the orders it refunded without one.
        recovered += sum(
            c.recovered_amount for c in CollectiveCase.objects.filter(merchant=merchant)
        )
        assert deposit_summary(merchant).balance == Decimal(shop.deposit) - recovered


@pytest.mark.django_db
def test_seed_demo_evidence_files_are_real_images_and_a_hand_written_pdf():
    seed()
    # What the platform writes itself (its records, the automatic checks' answers) is JSON.
    uploaded = Evidence.objects.exclude(
        kind__in=[EvidenceKind.PLATFORM_RECORD, EvidenceKind.AUTO_CHECK]
    )
    assert uploaded.filter(content_type="image/png").count() >= len(COMPLAINTS)
    assert uploaded.filter(content_type="application/pdf", role="merchant").exists()
    for evidence in uploaded:
        with default_storage.open(evidence.stored_name) as stored:
            content = stored.read()
        assert hashlib.sha256(content).hexdigest() == evidence.sha256
        if evidence.content_type == "image/png":
            with Image.open(io.BytesIO(content)) as image:
                assert image.format == "PNG" and image.width >= 400
        else:
            assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")


def test_minimal_pdf_has_a_correct_cross_reference_table():
    pdf = minimal_pdf(["Order: KM1 (test)", "C:\\path"])
    startxref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    table = pdf[startxref:].split(b"\n")
    assert table[0] == b"xref" and table[1] == b"0 6"
    for number, line in enumerate(table[3:8], start=1):
        offset = int(line.split()[0])
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    stream = pdf.split(b"stream\n", 1)[1].split(b"\nendstream", 1)[0]
    assert b"/Length %d" % len(stream) in pdf
    assert b"\\(test\\)" in stream  # parentheses escaped inside the string


def test_seed_demo_lives_in_disputes_and_orders_imports_neither_escrow_nor_disputes():
    from django.core.management import get_commands

    assert get_commands()["seed_demo"] == "disputes"
    # Dependencies point one way: disputes -> escrow -> orders.
    for path in (Path(settings.BASE_DIR) / "orders").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"escrow", "disputes"}, f"{path}: {name}"


@pytest.mark.django_db
def test_seed_demo_keeps_a_demo_password_someone_changed():
    seed()
    buyer = User.objects.get(username=BUYERS[0].username)
    buyer.set_password("my-own-new-password-1")
    buyer.save()
    seed()
    assert authenticate(username=buyer.username, password="my-own-new-password-1") is not None


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_database():
    output = seed("--if-empty")
    assert "seeded" in output
    assert Merchant.objects.exists()


@pytest.mark.django_db
def test_if_empty_leaves_a_database_with_users_alone():
    UserFactory(username="someone")
    output = seed("--if-empty")
    assert "not seeding" in output
    assert User.objects.count() == 1
    assert not Merchant.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_if_empty_prints_no_demo_password_for_a_real_admin_account():
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    output = seed("--if-empty")
    assert DEMO_PASSWORD not in output


@pytest.mark.django_db
def test_seed_demo_stores_no_card_key_in_clear():
    seed()
    order = Order.objects.filter(card_keys__isnull=False).first()
    clear = services.order_reveal_keys(order=order, user=order.buyer)[0]
    for key in CardKey.objects.all():
        assert clear not in key.secret_encrypted


def test_readme_lists_every_demo_login():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    for login in demo_logins():
        assert re.search(
            rf"\|\s*`{login.username}`\s*\|\s*`{re.escape(login.password)}`\s*\|", readme
        ), f"README.md does not list the demo login {login.username}"
