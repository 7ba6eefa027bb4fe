"""Merchant API keys (docs/api-keys.md, merchant/api_keys.py, merchant/services.py): the API
contract, the digest at rest, scopes default-deny, expiry, revocation, last use, the audit log,
and the key acting as the shop on a complaint — never as a person."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from disputes import services as dispute_services
from disputes.models import DisputeEvent, EventType, Notification, Role, Status
from escrow import services as escrow_services
from kamen_complaints.errors import Forbidden
from kamen_complaints.models import AuditEntry
from merchant import services
from merchant.api_keys import SCOPES, required_scope
from merchant.models import MerchantAPIKey
from orders import services as order_services
from orders.models import Merchant
from tests.disputes.factories import agent_of, contest, file, funded_order, png
from tests.factories import CardKeyFactory, MerchantFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db

ALL = list(SCOPES)
READ = ["complaints:read"]
ANSWER = ["complaints:read", "complaints:answer"]


def person(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def with_key(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def new_key(shop: Merchant, scopes: list[str], name: str = "ERP sync", **kwargs: Any) -> str:
    _key, secret = services.api_key_create(
        merchant=shop, actor=shop.owner, name=name, scopes=scopes, **kwargs
    )
    return secret


def key_of(secret: str) -> MerchantAPIKey:
    return MerchantAPIKey.objects.get(prefix=secret.partition(".")[0])


def complaint_url(dispute: Any, action: str = "") -> str:
    base = f"/api/v1/disputes/{dispute.number}/"
    return f"{base}{action}/" if action else base


# --- Creating, listing, revoking --------------------------------------------------------------


def test_the_owner_creates_a_key_shown_once_and_the_database_keeps_only_its_digest():
    shop = MerchantFactory()
    owner = person(shop.owner)
    answer = owner.post(
        "/api/v1/merchant/api-keys/",
        {"name": "ERP sync", "scopes": ["complaints:answer", "complaints:read"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    secret = body["key"]
    prefix, _dot, rest = secret.partition(".")
    assert body["id"] == body["prefix"] == prefix and len(rest) >= 32
    assert body["scopes"] == ["complaints:read", "complaints:answer"]
    assert body["revoked"] is False and body["last_used_at"] is None
    row = key_of(secret)
    assert row.hashed_key == "sha512$$" + hashlib.sha512(secret.encode()).hexdigest()

    # Nowhere in the database: not in any column of any table (the key row, its service
    # account, the audit log, the sessions).
    for table in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from Django
            for values in cursor.fetchall():
                assert not any(rest in str(v) for v in values), table

    listed = owner.get("/api/v1/merchant/api-keys/").json()
    assert listed["count"] == 1
    (item,) = listed["results"]
    assert "key" not in item and "hashed_key" not in item and rest not in str(item)
    assert set(item) == {
        "id",
        "prefix",
        "name",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked",
        "revoked_at",
    }


def test_create_refuses_bad_input_with_a_clear_error():
    shop = MerchantFactory()
    owner = person(shop.owner)
    url = "/api/v1/merchant/api-keys/"
    none = owner.post(url, {"name": "ERP", "scopes": []}, format="json")
    assert none.status_code == 400 and none.json()["code"] == "scopes_required"
    unknown = owner.post(url, {"name": "ERP", "scopes": ["deposit:withdraw"]}, format="json")
    assert unknown.status_code == 400 and "scopes" in unknown.json()
    text = owner.post(url, {"name": "ERP", "scopes": "complaints:read"}, format="json")
    assert text.status_code == 400 and "scopes" in text.json()
    blank = owner.post(url, {"name": "  ", "scopes": READ}, format="json")
    assert blank.status_code == 400
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    expired = owner.post(url, {"name": "ERP", "scopes": READ, "expires_at": past}, format="json")
    assert expired.status_code == 400 and expired.json()["code"] == "expiry_past"
    assert not MerchantAPIKey.objects.exists()
    for n in range(services.MAX_LIVE_KEYS):
        new_key(shop, READ, name=f"bot {n}")
    full = owner.post(url, {"name": "one more", "scopes": READ}, format="json")
    assert full.status_code == 409 and full.json()["code"] == "too_many_keys"


def test_only_the_owner_sees_creates_and_revokes_keys():
    shop = MerchantFactory()
    secret = new_key(shop, ALL)
    prefix = key_of(secret).prefix
    url = "/api/v1/merchant/api-keys/"
    agent = person(agent_of(shop))
    assert agent.get(url).status_code == 403
    assert agent.post(url, {"name": "x", "scopes": READ}, format="json").status_code == 403
    assert agent.delete(f"{url}{prefix}/").status_code == 403
    # Another shop's owner: not their key.
    other = person(MerchantFactory().owner)
    assert other.delete(f"{url}{prefix}/").status_code == 404
    assert person(None).get(url).status_code == 401
    # A key never manages keys, whatever its scopes.
    key = with_key(secret)
    for answer in (
        key.get(url),
        key.post(url, {"name": "x", "scopes": READ}, format="json"),
        key.delete(f"{url}{prefix}/"),
    ):
        assert answer.status_code == 403 and answer.json()["code"] == "api_key_scope"
    assert MerchantAPIKey.objects.count() == 1 and not key_of(secret).revoked


def test_a_revoked_key_is_refused_and_every_step_is_in_the_audit_log():
    shop = MerchantFactory()
    dispute = file(order=funded_order(product=ProductFactory(merchant=shop)))
    secret = new_key(shop, READ)
    key = with_key(secret)
    assert key.get(complaint_url(dispute)).status_code == 200
    prefix = key_of(secret).prefix
    owner = person(shop.owner)
    assert owner.delete(f"/api/v1/merchant/api-keys/{prefix}/").status_code == 204
    assert owner.delete(f"/api/v1/merchant/api-keys/{prefix}/").status_code == 204  # no change
    refused = key.get(complaint_url(dispute))
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_revoked"
    (item,) = owner.get("/api/v1/merchant/api-keys/").json()["results"]
    assert item["revoked"] is True and item["revoked_at"]
    row = key_of(secret)
    assert not row.user.is_active and row.revoked_by == shop.owner
    actions = list(
        AuditEntry.objects.filter(object_id=prefix).order_by("id").values_list("action", "actor")
    )
    assert actions == [
        (services.AUDIT_KEY_CREATED, shop.owner.pk),
        (services.AUDIT_KEY_REVOKED, shop.owner.pk),
        (services.AUDIT_KEY_REFUSED, row.user_id),
    ]
    assert AuditEntry.objects.get(action=services.AUDIT_KEY_REFUSED).reason == "api_key_revoked"


def test_an_expired_key_is_refused(time_machine):
    shop = MerchantFactory()
    dispute = file(order=funded_order(product=ProductFactory(merchant=shop)))
    expires = timezone.now() + timedelta(hours=1)
    secret = new_key(shop, READ, expires_at=expires)
    key = with_key(secret)
    assert key.get(complaint_url(dispute)).status_code == 200
    time_machine.move_to(timezone.now() + timedelta(hours=1, seconds=1))
    refused = key.get(complaint_url(dispute))
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_expired"
    assert timezone.localtime(expires).strftime("%Y-%m-%d %H:%M") in refused.json()["detail"]
    entry = AuditEntry.objects.get(action=services.AUDIT_KEY_REFUSED)
    assert entry.reason == "api_key_expired" and entry.after["path"] == complaint_url(dispute)


def test_an_unknown_or_malformed_key_is_a_401():
    shop = MerchantFactory()
    secret = new_key(shop, READ)
    prefix, _dot, rest = secret.partition(".")
    for header in (
        f"Api-Key {prefix}.{'x' * len(rest)}",  # the right prefix, a wrong secret
        "Api-Key nothing",
        "Api-Key",
        f"Api-Key {secret} extra",
        "Api-Key " + "a" * 500,
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        answer = client.get("/api/v1/disputes/")
        assert answer.status_code == 401, header
        assert answer.json()["code"] == "api_key_invalid"
    assert not AuditEntry.objects.filter(action=services.AUDIT_KEY_REFUSED).exists()


# --- Scopes: default-deny -------------------------------------------------------------------


def test_a_key_reads_its_shops_complaints_and_nothing_else():
    shop = MerchantFactory()
    own = file(order=funded_order(product=ProductFactory(merchant=shop)))
    evidence = dispute_services.dispute_add_evidence(
        dispute=own, user=own.buyer, kind="order_screenshot", file=png(), note=""
    )
    theirs = file()
    key = with_key(new_key(shop, READ))
    listed = key.get("/api/v1/disputes/")
    assert listed.status_code == 200
    assert [d["number"] for d in listed.json()["results"]] == [own.number]
    detail = key.get(complaint_url(own)).json()
    assert detail["role"] == "merchant" and "respond" in detail["actions"]
    assert key.get(f"{complaint_url(own)}evidence/{evidence.pk}/").status_code == 200
    assert key.get(complaint_url(theirs)).status_code == 404
    assert key.get("/api/v1/merchant/stats/").status_code == 200
    # Reading is not answering.
    refused = key.post(
        complaint_url(own, "respond"), {"action": "accept", "remedy": "refund"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "api_key_scope"
    assert "complaints:answer" in refused.json()["detail"]
    own.refresh_from_db()
    assert own.status == Status.AWAITING_MERCHANT
    entry = AuditEntry.objects.get(action=services.AUDIT_KEY_REFUSED)
    assert entry.reason == "api_key_scope" and entry.after["scope"] == "complaints:answer"
    # Another shop's complaint stays a 404 for a key that may answer, too.
    answering = with_key(new_key(shop, ANSWER, name="bot"))
    other = answering.post(complaint_url(theirs, "messages"), {"body": "hi"}, format="json")
    assert other.status_code == 404


def test_keys_never_reach_money_the_team_keys_staff_buying_or_pages():
    shop = MerchantFactory()
    secret = new_key(shop, ALL)
    key = with_key(secret)
    refused = [
        key.get("/api/v1/merchant/deposit/"),
        key.post("/api/v1/merchant/deposit/topups/", {"amount": "100.00"}, format="json"),
        key.get("/api/v1/merchant/deposit/withdrawals/"),
        key.post("/api/v1/merchant/deposit/withdrawals/", {"amount": "1.00"}, format="json"),
        key.get("/api/v1/merchant/team/"),
        key.post("/api/v1/merchant/team/", {"username": "x"}, format="json"),
        key.get("/api/v1/merchant/api-keys/"),
        key.get("/api/v1/staff/metrics/"),
        key.post(f"/api/v1/staff/merchants/{shop.pk}/verify/", {}, format="json"),
        key.get("/api/v1/products/"),  # public, but a key is not a visitor
        key.post("/api/v1/orders/", {"product": 1, "quantity": 1}, format="json"),
        key.get("/api/v1/notifications/"),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.request["PATH_INFO"]
        assert answer.json()["code"] == "api_key_scope"
    # Knox's own views take knox tokens only: to them a key is no one.
    assert key.post("/api/v1/auth/logout/", {}, format="json").status_code == 401
    # Pages take the session only: the header is ignored, so it is a visitor.
    page = Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    for url in ("/merchant/", "/merchant/complaints/", "/merchant/deposit/", "/merchant/api-keys/"):
        assert page.get(url).status_code == 302


def test_no_view_opens_money_the_team_keys_webhooks_staff_or_accounts_to_keys():
    """The declarations themselves: each names a known scope, and none sits on a path a key
    must never reach (a view added there later stays closed unless someone declares it)."""
    closed = (
        "merchant/deposit",
        "merchant/team",
        "merchant/api-keys",
        "merchant/webhooks",
        "merchant/apply",
        "staff/",
        "auth/",
        "notifications/",
        "payments/",
    )
    declared: dict[str, dict[str, str]] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "cls", None)
                scopes = getattr(view, "key_scope", None)
                if scopes:
                    declared[prefix + str(p.pattern)] = scopes

    walk(get_resolver().url_patterns, "")
    assert "api/v1/disputes/<number:number>/respond/" in declared
    for route, scopes in declared.items():
        assert route.startswith("api/v1/"), route
        assert not route.removeprefix("api/v1/").startswith(closed), route
        assert set(scopes.values()) <= set(SCOPES), route


def test_the_key_account_is_no_owner_and_no_person():
    shop = MerchantFactory()
    fund_shop = funded_order(product=ProductFactory(merchant=shop))  # the deposit is funded
    secret = new_key(shop, ALL)
    account = key_of(secret).user
    assert not account.has_usable_password() and not account.email
    assert not Client().login(username=account.username, password="")
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": account.username, "password": "x"}, format="json"
    )
    assert token.status_code in (400, 401)
    for attempt in (
        lambda: escrow_services.withdrawal_request(merchant=shop, amount=1, user=account),
        lambda: escrow_services.deposit_topup(merchant=shop, amount=100, user=account),
        lambda: order_services.merchant_member_add(merchant=shop, actor=account, username="x"),
        lambda: services.api_key_create(merchant=shop, actor=account, name="y", scopes=READ),
    ):
        with pytest.raises(Forbidden):
            attempt()
    # Not one of the team: not listed, not removable, not told of a complaint.
    team = person(shop.owner).get("/api/v1/merchant/team/").json()["results"]
    assert account.username not in [m["username"] for m in team]
    member = account.merchant_memberships.get()
    assert person(shop.owner).delete(f"/api/v1/merchant/team/{member.pk}/").status_code == 404
    file(order=fund_shop)
    assert Notification.objects.filter(recipient=shop.owner).exists()
    assert not Notification.objects.filter(recipient=account).exists()


# --- Everything the complaint page does, with a key ------------------------------------------


def _shop_complaint(stock: int = 0) -> tuple[Merchant, Any]:
    shop = MerchantFactory()
    product = ProductFactory(merchant=shop)
    dispute = file(order=funded_order(product=product))
    for _ in range(stock):
        CardKeyFactory(product=product)
    return shop, dispute


@pytest.mark.parametrize(
    ("body", "status", "outcome"),
    [
        ({"action": "accept", "remedy": "refund", "message": "Sorry"}, "resolved", "refunded"),
        ({"action": "accept", "remedy": "replace", "message": "New key"}, "resolved", "replaced"),
        ({"action": "offer", "amount": "20.00", "message": "Half?"}, "awaiting_buyer", ""),
    ],
    ids=["accept-refund", "accept-replace", "offer"],
)
def test_a_key_answers_a_complaint_as_the_page_does(body, status, outcome):
    shop, dispute = _shop_complaint(stock=1)
    key = with_key(new_key(shop, ANSWER))
    answer = key.post(complaint_url(dispute, "respond"), body, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == status and answer.json()["outcome"] == outcome


def test_a_key_contests_with_evidence_writes_messages_and_the_timeline_names_the_key():
    shop, dispute = _shop_complaint()
    secret = new_key(shop, ANSWER)
    account = key_of(secret).user
    key = with_key(secret)
    upload = key.post(
        complaint_url(dispute, "evidence"),
        {"kind": "upstream_proof", "file": png("upstream.png"), "note": "Unused at delivery"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    said = key.post(complaint_url(dispute, "messages"), {"body": "Checking now."}, format="json")
    assert said.status_code == 201
    contested = key.post(
        complaint_url(dispute, "respond"),
        {"action": "contest", "message": "The key was valid."},
        format="json",
    )
    assert contested.status_code == 200 and contested.json()["status"] == "under_review"

    name = f"API 密钥 ERP sync（{key_of(secret).prefix}）"
    assert account.username == name
    events = DisputeEvent.objects.filter(dispute=dispute, actor=account)
    assert {e.type for e in events} >= {EventType.MESSAGE, EventType.CONTESTED}
    assert {e.role for e in events} == {Role.MERCHANT}
    assert not DisputeEvent.objects.filter(dispute=dispute, actor=shop.owner).exists()
    # The buyer's view of the timeline names the key, not a person of the shop.
    timeline = person(dispute.buyer).get(complaint_url(dispute)).json()["events"]
    message = next(e for e in timeline if e["type"] == "message")
    assert message["actor"] == name and message["role"] == "merchant"
    evidence = dispute.evidence.get(role=Role.MERCHANT)
    assert evidence.uploaded_by == account


def test_a_key_appeals_a_ruling_against_the_shop():
    shop, dispute = _shop_complaint()
    dispute = contest(dispute)
    staff = StaffFactory(perms=["disputes.arbitrate", "disputes.view_dispute"])
    dispute_services.dispute_rule(
        dispute=dispute, staff=staff, outcome="refunded", reason="The key was used before."
    )
    key = with_key(new_key(shop, ANSWER))
    appealed = key.post(
        complaint_url(dispute, "appeal"), {"reason": "The upstream log says otherwise."}
    )
    assert appealed.status_code == 200, appealed.content
    assert appealed.json()["status"] == "under_review"


# --- Products and orders ----------------------------------------------------------------------


def test_products_and_orders_keys_do_what_their_scope_says():
    shop = MerchantFactory()
    order = funded_order(product=ProductFactory(merchant=shop))
    products = with_key(new_key(shop, ["products:write"], name="stock bot"))
    made = products.post(
        "/api/v1/merchant/products/",
        {
            "name": "Steam 100",
            "kind": "game_card",
            "face_value": "100.00",
            "price": "98.00",
            "source": "Upstream contract #7",
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    imported = products.post(
        f"/api/v1/merchant/products/{made.json()['id']}/card-keys/",
        {"keys": "STEAM-AAAA-0001\nSTEAM-AAAA-0002"},
        format="json",
    )
    assert imported.status_code == 200 and imported.json()["imported"] == 2
    assert products.get("/api/v1/merchant/orders/").status_code == 403

    orders = with_key(new_key(shop, ["orders:read"], name="ERP"))
    listed = orders.get("/api/v1/merchant/orders/").json()["results"]
    assert [o["number"] for o in listed] == [order.number]
    assert orders.get(f"/api/v1/orders/{order.number}/").status_code == 200
    assert orders.get("/api/v1/orders/").json()["count"] == 1
    assert orders.get("/api/v1/merchant/products/").status_code == 403
    assert orders.get("/api/v1/disputes/").status_code == 403


# --- Last use -------------------------------------------------------------------------------


def test_last_use_is_written_at_most_once_a_minute(time_machine):
    shop = MerchantFactory()
    secret = new_key(shop, READ)
    key = with_key(secret)
    time_machine.move_to(timezone.now(), tick=False)
    first = timezone.now()
    assert key.get("/api/v1/disputes/").status_code == 200
    assert key_of(secret).last_used_at == first
    time_machine.move_to(first + timedelta(seconds=59), tick=False)
    assert key.get("/api/v1/disputes/").status_code == 200
    assert key_of(secret).last_used_at == first
    time_machine.move_to(first + timedelta(seconds=61), tick=False)
    assert key.get("/api/v1/disputes/").status_code == 200
    assert key_of(secret).last_used_at == timezone.now()
    listed = person(shop.owner).get("/api/v1/merchant/api-keys/").json()["results"][0]
    assert listed["last_used_at"] is not None


# --- The schema -----------------------------------------------------------------------------


def test_the_schema_describes_the_api_key_scheme_where_keys_are_accepted():
    schema = person(None).get("/api/schema/", {"format": "json"}).json()
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme["type"] == "apiKey" and scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    paths = schema["paths"]
    respond = paths["/api/v1/disputes/{number}/respond/"]["post"]["security"]
    assert {"ApiKeyAuth": []} in respond
    withdraw = paths["/api/v1/merchant/deposit/withdrawals/"]["post"]["security"]
    assert all("ApiKeyAuth" not in s for s in withdraw)
    assert required_scope(object(), "GET") is None


def test_a_key_reads_its_orders_chats_and_answers_them_with_the_answer_scope():
    """The order chat (联系商家) by API: the shop's system reads with orders:read and answers
    with complaints:answer; the message is the shop's, signed by the key, not a person."""
    from orders.services import chat

    shop = MerchantFactory()
    order = funded_order(product=ProductFactory(merchant=shop))
    chat.order_message_post(order=order, user=order.buyer, body="卡密无效")
    url = f"/api/v1/orders/{order.number}/messages/"
    reader = with_key(new_key(shop, ["orders:read"], name="ERP"))
    read = reader.get(url)
    assert read.status_code == 200 and [m["body"] for m in read.json()["results"]] == ["卡密无效"]
    assert reader.post(url, {"body": "x"}, format="json").status_code == 403
    answerer = with_key(new_key(shop, ["complaints:answer", "orders:read"], name="客服机器人"))
    answered = answerer.post(url, {"body": "已补发"}, format="json")
    assert answered.status_code == 201, answered.content
    assert answered.json()["side"] == "shop"
    other = with_key(new_key(MerchantFactory(), ["orders:read", "complaints:answer"]))
    assert other.get(url).status_code == 404
