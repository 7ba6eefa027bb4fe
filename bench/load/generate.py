"""The load test's marketplace (`make load`, docs/load.md): generate, arm the clocks, verify.

Runs in the load test's own environment (bench/load/run.sh: the production settings on the
scratch database), after `seed_demo`:

    python -m bench.load.generate fill PLAN.json    # the marketplace, and the plan Locust reads
    python -m bench.load.generate arm PLAN.json SECONDS
    python -m bench.load.generate verify PLAN.json

`fill` adds, beside the demo: 100 shops (deposits paid through escrow's service), 10,000
products, 200,000 delivered orders and 20,000 complaints in every state (copies of the demo's
complaints, one per state and outcome), all by SQL (INSERT … SELECT generate_series over a
template row, as bench/bench_merchant_pages.py does), then VACUUM ANALYZE. The accounts the
virtual users log in with (buyers, shop owners, arbitrators) are copies of the demo's, with the
demo's public password. Card-key stock for the products the virtual buyers buy is encrypted
with this run's own CARD_KEY_KEYS. Then "armed" complaints, filed and answered through the
services themselves (awaiting the merchant, awaiting the buyer after an offer, under review
after a contest), whose clocks `arm` sets to fall due during the run; `verify` then checks
every one of them was enforced exactly once.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

SHOPS = 100
PRODUCTS = 10_000
ORDERS = 200_000
COMPLAINTS = 20_000
MARKET_BUYERS = 2_000
LOAD_BUYERS = 60  # accounts for the virtual buyers (50 users at most, any role)
LOAD_SHOPS = 10  # the shops whose owners are virtual merchants, and that virtual buyers buy from
LOAD_STAFF = 10
HOT_PER_SHOP = 5  # products with card-key stock in each load shop
# Card keys per hot product: 100 for the fixed run; the capacity run, which buys many more,
# asks for more (LOAD_KEYS_PER_HOT), so running out of stock never ends its stepping.
KEYS_PER_HOT = int(os.environ.get("LOAD_KEYS_PER_HOT", "100"))
ARMED_PER_CLOCK = 30  # complaints per clock (merchant, buyer, review) falling due in the run
ARMED_SHOPS = range(LOAD_SHOPS, 2 * LOAD_SHOPS)  # the armed complaints' shops (not answered)
TEMPLATE_USER = "buyer1"  # every generated account copies this demo account's password hash
CLOCK_EVENT = {
    "awaiting_merchant": "default_judgment",
    "awaiting_buyer": "offer_lapsed",
    "under_review": "review_expired",
}
CLOCK_FIELD = {
    "awaiting_merchant": "merchant_response_due",
    "awaiting_buyer": "buyer_response_due",
    "under_review": "review_due",
}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kamen_complaints.settings")
    import django

    django.setup()


def _columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        cols = [c.name for c in connection.introspection.get_table_description(cur, table)]
    return [c for c in cols if c != "id"]


def _insert_select(table: str, replace: dict[str, str], tail: str, params: list[Any]) -> int:
    """INSERT INTO table (every column but id) SELECT <t.column or its replacement> <tail>:
    the tail names the template row `t` (the same table) and whatever else it joins."""
    from django.db import connection

    cols = _columns(table)
    values = [replace.get(c, f't."{c}"') for c in cols]
    names = ", ".join(f'"{c}"' for c in cols)
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {', '.join(values)} {tail}", params)  # noqa: S608
        return int(cur.rowcount)


def _ids(sql: str, params: list[Any]) -> list[int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]


def _users(prefix: str, n: int, *, staff: bool = False) -> list[int]:
    from django.contrib.auth.models import User

    width = len(str(n))
    _insert_select(
        User._meta.db_table,
        {
            "username": f"'{prefix}' || lpad(g::text, {width}, '0')",
            "email": f"'{prefix}' || g || '@load.example'",
            "first_name": "''",
            "last_name": "''",
            "is_staff": "true" if staff else "false",
            "is_superuser": "false",
            "last_login": "NULL",
            "date_joined": "now()",
        },
        f"FROM {User._meta.db_table} t, generate_series(1, %s) g WHERE t.username = %s",
        [n, TEMPLATE_USER],
    )
    return _ids(
        f"SELECT id FROM {User._meta.db_table} WHERE username LIKE %s ORDER BY username",  # noqa: S608
        [f"{prefix}%"],
    )


def fill(plan_path: str) -> None:
    _setup()
    from django.contrib.auth.models import User
    from django.db import connection

    from orders.models import Merchant, MerchantMember, Order, Product

    started = time.perf_counter()
    demo_merchant = Merchant.objects.order_by("pk").first()
    assert demo_merchant is not None, "run seed_demo first"  # noqa: S101

    # --- Accounts: copies of the demo's, with its public password ---------------------------
    buyers = _users("loadbuyer", LOAD_BUYERS)
    market = _users("mbuyer", MARKET_BUYERS)
    _users("loadshop", SHOPS)  # the shops' owners
    staff = _users("loadstaff", LOAD_STAFF, staff=True)
    with connection.cursor() as cur:
        # The arbitrator's permissions (decide complaints), as seed_demo grants them.
        cur.execute(
            "INSERT INTO auth_user_user_permissions (user_id, permission_id) "
            "SELECT u.id, p.permission_id FROM auth_user u, auth_user_user_permissions p "
            "WHERE u.username LIKE 'loadstaff%%' "
            "AND p.user_id = (SELECT id FROM auth_user WHERE username = 'arbiter')"
        )

    # --- Shops: copies of a demo shop, each with its owner, deposits paid by the service ---
    merchant_t = Merchant._meta.db_table
    _insert_select(
        merchant_t,
        {
            "owner_id": "u.id",
            "shop_name": "'负载测试店 ' || u.username",
            # unique (orders.Merchant.save sets it from the name; these names are ASCII after
            # the prefix, so lower() is kamen_complaints.text.name_key of them)
            "shop_name_key": "lower('负载测试店 ' || u.username)",
            "created_at": "now() - interval '90 days'",
        },
        f"FROM {merchant_t} t, {User._meta.db_table} u "
        "WHERE t.id = %s AND u.username LIKE 'loadshop%%'",
        [demo_merchant.pk],
    )
    shops = list(
        Merchant.objects.filter(owner__username__startswith="loadshop").order_by("owner__username")
    )
    MerchantMember.objects.bulk_create(
        [MerchantMember(merchant=shop, user_id=shop.owner_id, role="owner") for shop in shops]
    )
    _deposits(shops)

    # --- Products: 100 per shop, copies of the demo's (every kind) --------------------------
    product_t = Product._meta.db_table
    templates = list(Product.objects.filter(merchant__owner__username__in=_demo_owners()))
    templates.sort(key=lambda p: p.pk)
    template_ids = [p.pk for p in templates]
    shop_ids = [s.pk for s in shops]
    per_shop = PRODUCTS // SHOPS
    _insert_select(
        product_t,
        {
            "merchant_id": f"(%s::bigint[])[1 + (g - 1) / {per_shop}]",
            "name": "t.name || ' #' || g",
            # on sale, whatever the demo product copied (its page would answer 404)
            "active": "true",
            "created_at": "now() - interval '60 days'",
        },
        f"FROM generate_series(1, %s) g JOIN {product_t} t "
        "ON t.id = (%s::bigint[])[1 + mod(g, %s)]",
        [shop_ids, PRODUCTS, template_ids, len(template_ids)],
    )
    products = _ids(
        f"SELECT id FROM {product_t} WHERE merchant_id = ANY(%s) ORDER BY id",  # noqa: S608
        [shop_ids],
    )

    # --- Card-key stock for the products the virtual buyers buy, and the armed complaints ---
    hot: dict[int, list[dict[str, Any]]] = {}
    for index, shop in enumerate(shops[: 2 * LOAD_SHOPS]):
        chosen = list(
            Product.objects.filter(
                merchant=shop, kind__in=["game_card", "gift_card", "other"], active=True
            ).order_by("pk")[:HOT_PER_SHOP]
        )
        _stock(chosen, KEYS_PER_HOT if index < LOAD_SHOPS else 2 * ARMED_PER_CLOCK)
        hot[shop.pk] = [{"id": p.pk, "price": str(p.price)} for p in chosen]

    # --- 200,000 delivered orders over the last 58 days, across every shop and product ----
    order_t = Order._meta.db_table
    template_order = (
        Order.objects.filter(status="delivered", product__kind="game_card", refunded_amount=0)
        .order_by("pk")
        .first()
    )
    assert template_order is not None  # noqa: S101
    _insert_select(
        order_t,
        {
            "number": "'LD' || lpad(g::text, 10, '0')",
            "payment_reference": "'PLD' || g",
            "buyer_id": "(%s::bigint[])[1 + mod(g * 7, %s)]",
            "product_id": "p.id",
            "merchant_id": "p.merchant_id",
            "quantity": "1",
            "unit_price": "p.price",
            "amount": "p.price",
            "refunded_amount": "0",
            "refund_reserved": "0",
            "status": "'delivered'",
            "topup_target": "CASE WHEN p.kind = 'phone_topup' THEN '13800001111' ELSE '' END",
            "created_at": "now() - (g * 25 || ' seconds')::interval",
            "paid_at": "now() - (g * 25 - 60 || ' seconds')::interval",
            "delivered_at": "now() - (g * 25 - 65 || ' seconds')::interval",
        },
        f"FROM {order_t} t, generate_series(1, %s) g "
        f"JOIN {product_t} p ON p.id = (%s::bigint[])[1 + mod(g, %s)] WHERE t.id = %s",
        [market, len(market), ORDERS, products, len(products), template_order.pk],
    )

    # --- 20,000 complaints: copies of the demo's (every state and outcome) ------------------
    _complaints()

    # --- Armed complaints: filed and answered through the services --------------------------
    armed = _armed(shops[ARMED_SHOPS.start : ARMED_SHOPS.stop], hot, market)

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    elapsed = time.perf_counter() - started

    load_shops = shops[:LOAD_SHOPS]
    plan = {
        "password": "kamen-demo-2026",  # the demo logins' public password (README)
        "buyers": list(
            User.objects.filter(pk__in=buyers)
            .order_by("username")
            .values_list("username", flat=True)
        ),
        "merchants": [
            {"username": s.owner.username, "shop": s.pk, "hot": hot[s.pk]} for s in load_shops
        ],
        "staff": list(
            User.objects.filter(pk__in=staff)
            .order_by("username")
            .values_list("username", flat=True)
        ),
        "shops": [s.pk for s in shops] + [demo_merchant.pk],
        "products": [products[0], products[-1]],
        "armed": armed,
    }
    Path(plan_path).write_text(json.dumps(plan, indent=1))
    print(f"generated in {elapsed:.1f} s: {_sizes()}")


def _demo_owners() -> list[str]:
    return ["xingyun", "suda", "lixiang"]


def _deposits(shops: list[Any]) -> None:
    from escrow import services as escrow_services

    for shop in shops:
        escrow_services.deposit_topup_confirm(
            merchant=shop,
            reference=f"load-topup-{uuid.uuid4().hex}",
            amount=Decimal("20000.00"),
            channel="sandbox",
            user=shop.owner,
        )


def _stock(products: list[Any], per_product: int) -> None:
    from orders import crypto
    from orders.models import CardKey

    rows = []
    for product in products:
        for _ in range(per_product):
            plain = f"LOAD-{uuid.uuid4().hex[:16].upper()}"
            rows.append(
                CardKey(
                    product=product,
                    secret_encrypted=crypto.encrypt(plain),
                    fingerprint=crypto.fingerprint(plain),
                    tail=plain[-4:],
                )
            )
    CardKey.objects.bulk_create(rows, batch_size=2000)


def _complaints() -> None:
    """One complaint on every tenth generated order, a copy of one of the demo's complaints in
    turn (so every state and outcome is there in the demo's proportions). Open ones keep the
    demo's running deadlines (a day or more away: nothing of theirs falls due in the run) and
    are filed in the last 20 hours; closed ones an hour after their order's delivery."""
    from disputes.models import Dispute
    from orders.models import Order

    dispute_t, order_t = Dispute._meta.db_table, Order._meta.db_table
    templates = list(Dispute.objects.order_by("pk").values_list("pk", flat=True))
    every = ORDERS // COMPLAINTS
    open_ = "t.status IN ('awaiting_merchant', 'awaiting_buyer', 'under_review')"
    _insert_select(
        dispute_t,
        {
            "number": "'TSLD' || o.g",
            "order_id": "o.id",
            "buyer_id": "o.buyer_id",
            "merchant_id": "o.merchant_id",
            "claimed_amount": "LEAST(t.claimed_amount, o.amount)",
            # what replacement keys were worth is capped by the order, as check_ledger asks
            "replaced_value": "LEAST(t.replaced_value, o.amount)",
            "filed_at": (
                f"CASE WHEN {open_} THEN now() - (mod(o.g, 1200) || ' minutes')::interval "
                "ELSE o.delivered_at + interval '1 hour' END"
            ),
            "created_at": "now()",
            "updated_at": "now()",
        },
        f"FROM (SELECT id, buyer_id, merchant_id, amount, delivered_at, "
        f"row_number() OVER (ORDER BY id) AS g FROM {order_t} WHERE number LIKE 'LD%%') o "
        f"JOIN {dispute_t} t ON t.id = (%s::bigint[])[1 + mod(o.g / %s, %s)] "
        "WHERE mod(o.g, %s) = 0",
        [templates, every, len(templates), every],
    )


def _png(seed: int) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, 90, 160)).save(out, format="PNG")
    return SimpleUploadedFile(f"proof-{seed}.png", out.getvalue(), content_type="image/png")


def _armed(shops: list[Any], hot: dict[int, list[dict[str, Any]]], market: list[int]) -> list[Any]:
    """ARMED_PER_CLOCK complaints on each clock, filed and answered through the services by
    marketplace buyers and the shops' owners, on orders bought and paid through the services."""
    from django.contrib.auth.models import User

    from disputes import services
    from disputes.services.evidence import EvidenceUpload
    from orders import services as order_services
    from orders.models import Product

    armed: list[dict[str, Any]] = []
    states = list(CLOCK_EVENT)
    for i in range(ARMED_PER_CLOCK * len(states)):
        state = states[i % len(states)]
        shop = shops[i % len(shops)]
        product = Product.objects.get(pk=hot[shop.pk][i % len(hot[shop.pk])]["id"])
        buyer = User.objects.get(pk=market[(i * 13) % len(market)])
        order = order_services.order_create(buyer=buyer, product=product, quantity=1)
        order = order_services.order_pay(order=order, buyer=buyer)
        dispute = services.dispute_file(
            buyer=buyer,
            order=order,
            reason="invalid_card_key",
            claimed_amount=order.amount,
            description="load test: the key says already redeemed",
            evidence=[EvidenceUpload(kind="order_screenshot", file=_png(i))],
        )
        if state == "awaiting_buyer":
            services.dispute_respond(
                dispute=dispute,
                merchant_user=shop.owner,
                action="offer",
                amount=(order.amount / 2).quantize(Decimal("0.01")),
                message="half back?",
            )
        elif state == "under_review":
            services.dispute_add_evidence(
                dispute=dispute,
                user=shop.owner,
                kind="upstream_proof",
                file=_png(1000 + i),
                note="upstream says unused at delivery",
            )
            services.dispute_respond(
                dispute=dispute,
                merchant_user=shop.owner,
                action="contest",
                message="the key was valid when delivered",
            )
        armed.append({"number": dispute.number, "id": dispute.pk, "state": state})
    return armed


def arm(plan_path: str, seconds: int) -> None:
    """Set each armed complaint's running deadline to fall due during the next `seconds`
    (spread evenly, from 5 s in to 5 s before the end) — as if it had been filed a day ago."""
    _setup()
    from django.utils import timezone

    from disputes.models import Dispute

    plan = json.loads(Path(plan_path).read_text())
    armed = plan["armed"]
    now = timezone.now()
    span = max(seconds - 10, 1)
    for index, row in enumerate(armed):
        due = now + timedelta(seconds=5 + span * index / max(len(armed) - 1, 1))
        updated = Dispute.objects.filter(pk=row["id"], status=row["state"]).update(
            **{CLOCK_FIELD[row["state"]]: due}
        )
        assert updated == 1, row  # noqa: S101
        row["due"] = due.isoformat()
    plan["armed_at"] = now.isoformat()
    Path(plan_path).write_text(json.dumps(plan, indent=1))
    print(f"armed {len(armed)} deadlines to fall due between 5 s and {5 + span} s from now")


def verify(plan_path: str) -> None:
    """Every armed deadline enforced exactly once: the complaint left its state, by one event
    of its clock's kind, and (for those that pay) one payout. Prints one line per clock and a
    JSON summary line (`VERIFY {...}`) for the report."""
    _setup()
    from django.db.models import Count

    from disputes.models import Dispute, DisputeEvent
    from disputes.selectors import deadlines_overdue
    from escrow.models import Payout

    plan = json.loads(Path(plan_path).read_text())
    armed = plan["armed"]
    ids = [row["id"] for row in armed]
    events = dict(
        DisputeEvent.objects.filter(dispute_id__in=ids, type__in=list(CLOCK_EVENT.values()))
        .values("dispute_id")
        .annotate(n=Count("id"))
        .values_list("dispute_id", "n")
    )
    payouts = dict(
        Payout.objects.filter(order__disputes__in=ids)
        .values("order__disputes")
        .annotate(n=Count("id"))
        .values_list("order__disputes", "n")
    )
    status = dict(Dispute.objects.filter(pk__in=ids).values_list("pk", "status"))
    problems: list[str] = []
    per_state: dict[str, int] = {}
    for row in armed:
        pk = row["id"]
        n = events.get(pk, 0)
        if n != 1:
            problems.append(f"{row['number']} ({row['state']}): enforced {n} times")
        if status[pk] == row["state"]:
            problems.append(f"{row['number']}: still {row['state']}")
        if payouts.get(pk, 0) > 1:
            problems.append(f"{row['number']}: {payouts[pk]} payouts")
        if n == 1:
            per_state[row["state"]] = per_state.get(row["state"], 0) + 1
    from django.utils import timezone

    overdue, oldest = deadlines_overdue(timezone.now())
    for state, event in CLOCK_EVENT.items():
        total = sum(1 for row in armed if row["state"] == state)
        print(f"  {event:17}: {per_state.get(state, 0)}/{total} enforced exactly once")
    for problem in problems[:20]:
        print(f"  PROBLEM {problem}")
    print(f"  overdue clocks now: {overdue} (oldest {oldest})")
    summary = {
        "armed": len(armed),
        "exactly_once": sum(per_state.values()),
        "problems": len(problems),
        "overdue": overdue,
    }
    print("VERIFY " + json.dumps(summary))


def settled(plan_path: str) -> None:
    """Exit 0 once a sweep that began after the last armed deadline fell due has finished
    (ClockRun keeps the last sweep's start and end), else 1 — printing what it waits for.
    Whatever the beat interval and however long a sweep takes, every armed deadline was due
    when that sweep looked, so `verify` after it does not depend on where the clock stands."""
    _setup()
    from datetime import datetime

    from disputes.models import ClockRun

    plan = json.loads(Path(plan_path).read_text())
    last_due = max(datetime.fromisoformat(row["due"]) for row in plan["armed"])
    run = ClockRun.objects.filter(pk=1).first()
    if run is not None and run.started_at > last_due and run.finished_at >= run.started_at:
        began = run.started_at.isoformat()
        print(f"settled: the sweep of {began} began after {last_due.isoformat()}")
        raise SystemExit(0)
    began = run.started_at.isoformat() if run else "never"
    print(f"waiting: last due {last_due.isoformat()}, last sweep began {began}")
    raise SystemExit(1)


def _sizes() -> str:
    from django.db.models import Count

    from disputes.models import Dispute
    from orders.models import CardKey, Merchant, Order, Product

    by_state = dict(Dispute.objects.order_by().values_list("status").annotate(n=Count("id")))
    return (
        f"{Merchant.objects.count():,} shops, {Product.objects.count():,} products, "
        f"{CardKey.objects.filter(status='available').count():,} keys in stock, "
        f"{Order.objects.count():,} orders, {Dispute.objects.count():,} complaints "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(by_state.items()))})"
    )


def main(argv: list[str]) -> None:
    command, plan = argv[1], argv[2]
    if command == "fill":
        fill(plan)
    elif command == "arm":
        arm(plan, int(argv[3]))
    elif command == "verify":
        verify(plan)
    elif command == "settled":
        settled(plan)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
