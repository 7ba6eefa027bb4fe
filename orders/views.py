"""The buyer's pages: catalogue, product (buy), pay (sandbox or a real channel), order
(reveal), my orders.

Reads go through orders.selectors, every write through orders.services; a service's
DomainError is shown next to the form with its status code, never a 500. An order the caller
did not buy is a 404 on every page (no existence leak).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kamen_complaints.api import throttle_wait, throttled_message
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from orders import payments, selectors, services
from orders.forms import FIELD_OF_CODE, BuyForm, KindFilterForm
from orders.models import Order, OrderStatus, PaymentIntentStatus, Product
from orders.services import payments as payment_services

CATALOGUE_PAGE_SIZE = 24
ORDERS_PAGE_SIZE = 20


def _buyer(request: HttpRequest) -> User:
    return cast(User, request.user)


def _own_order(request: HttpRequest, number: str) -> Order:
    """The caller's own order, with product, shop and keys; 404 for anyone else's."""
    order = selectors.buyer_orders(_buyer(request)).filter(number=number).first()
    if order is None:
        raise Http404(_("No such order."))
    return order


@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    products = selectors.catalogue_products()
    filter_form = KindFilterForm(request.GET)
    status = 200
    kind = ""
    if filter_form.is_valid():
        kind = filter_form.cleaned_data["kind"]
        if kind:
            products = products.filter(kind=kind)
    else:
        status = 400
    page = Paginator(products, CATALOGUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filter_form": filter_form, "kind": kind}
    return render(request, "orders/catalogue.html", context, status=status)


def _sellable_product(pk: int) -> Product:
    product = selectors.catalogue_products().filter(pk=pk).first()
    if product is None:
        raise Http404(_("No such product."))
    return product


@require_http_methods(["GET", "POST"])
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The product, and the buy form: POST creates the order and goes on to pay it."""
    product = _sellable_product(pk)
    # `in_stock` is the selector's annotation; top-ups have no keys, so no stock to count.
    in_stock: int | None = getattr(product, "in_stock", 0) if product.delivers_card_keys else None
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        form = BuyForm(request.POST, product=product, in_stock=in_stock)
        if form.is_valid():
            try:
                order = services.order_create(
                    buyer=_buyer(request),
                    product=product,
                    quantity=form.cleaned_data["quantity"],
                    topup_target=form.cleaned_data.get("topup_target") or "",
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                return redirect("orders:pay", number=order.number)
        else:
            status = 400
    else:
        form = BuyForm(product=product, in_stock=in_stock)
    context = {"product": product, "form": form, "in_stock": in_stock}
    return render(request, "orders/product_detail.html", context, status=status)


def _is_phone(request: HttpRequest) -> bool:
    """A phone's browser gets the channel's mobile scene (Alipay mobile-web pay, WeChat Pay
    H5); a computer's the desktop one (Alipay page pay, WeChat Pay's code to scan)."""
    agent = request.META.get("HTTP_USER_AGENT", "")
    return any(word in agent for word in ("Mobile", "Android", "iPhone"))


def _pay_page(
    request: HttpRequest, order: Order, *, status: int = 200, **extra: Any
) -> HttpResponse:
    channels = payments.available_channels()
    context = {
        "order": order,
        "channels": [(c, payment_services.channel_label(c)) for c in channels],
        "sandbox_only": channels == [payments.SandboxProvider.channel],
        "intent": payment_services.order_pending_intent(order),
        **extra,
    }
    return render(request, "orders/pay.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, number: str) -> HttpResponse:
    """The payment page. The sandbox charges and delivers at once; a real channel (Alipay,
    WeChat Pay) sends the buyer to pay there, or shows WeChat Pay's code, and the order is
    paid when the channel confirms (its notice, the sweep, or "I have paid" asking it now)."""
    order = _own_order(request, number)
    if request.method == "GET":
        if order.status == OrderStatus.CANCELLED:
            messages.info(request, _("Order %(number)s is cancelled.") % {"number": number})
            return redirect("orders:order", number=number)
        if order.status != OrderStatus.PENDING_PAYMENT:
            messages.info(request, _("Order %(number)s is already paid.") % {"number": number})
            return redirect("orders:order", number=number)
        return _pay_page(request, order)
    if request.POST.get("action") == "check":
        checked = payment_services.order_payment_check(order=order, buyer=_buyer(request))
        if checked.status == OrderStatus.PENDING_PAYMENT:
            messages.info(
                request,
                _("The payment channel has not confirmed it yet; check again in a moment."),
            )
            return redirect("orders:pay", number=number)
        return redirect("orders:order", number=number)
    available = payments.available_channels()
    channel = request.POST.get("channel") or (available[0] if available else "")
    try:
        if payments.is_redirect_channel(channel):
            intent = payment_services.order_pay_start(
                order=order,
                buyer=_buyer(request),
                channel=channel,
                scene=payment_services.scene_for(channel, mobile=_is_phone(request)),
                return_url=request.build_absolute_uri(reverse("orders:pay", args=[number])),
                client_ip=request.META.get("REMOTE_ADDR", ""),
            )
            if intent.status == PaymentIntentStatus.PAID or not intent.pay_url:
                # WeChat Pay's code: shown on this page (and paid or not, it says so).
                return redirect("orders:pay", number=number)
            return redirect(intent.pay_url)
        paid = services.order_pay(order=order, buyer=_buyer(request), channel=channel)
    except DomainError as exc:
        order.refresh_from_db()
        return _pay_page(request, order, status=exc.status_code, error=exc.message)
    # A top-up on its way gets no flash message: the order page says so in the part it
    # reloads, so the notice leaves the moment the top-up is credited.
    if paid.status == OrderStatus.DELIVERED:
        messages.success(request, _("Paid. Your order is delivered."))
    elif paid.status != OrderStatus.DELIVERY_PENDING:
        messages.warning(
            request,
            _("Paid, but the shop could not deliver; the payment was refunded in full."),
        )
    return redirect("orders:order", number=number)


def _order_page(
    request: HttpRequest, order: Order, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {
        "order": order,
        "card_keys": list(order.card_keys.all()),
        # How it was refunded, oldest first (a complaint, a collective case): what the API's
        # `refunds` says, for the page to show.
        "refund_reasons": selectors.refund_reasons([order]).get(order.pk, []),
        # Switching language re-requests the page; the reveal URL answers POST only.
        "language_next": reverse("orders:order", args=[order.number]),
        **extra,
    }
    return render(request, "orders/order_detail.html", context, status=status)


def _reveal_session_key(number: str) -> str:
    return f"orders:revealed:{number}"


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The order; right after a reveal (its record's id is in the session, taken once) the
    keys in clear, never cached, so a reload shows them masked and records nothing."""
    order = _own_order(request, number)
    reveal_id = request.session.pop(_reveal_session_key(number), None)
    if not isinstance(reveal_id, int):
        return _order_page(request, order)
    keys = services.order_revealed_keys(order=order, user=_buyer(request), reveal_id=reveal_id)
    response = _order_page(request, order, revealed_keys=keys)
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def reveal(request: HttpRequest, number: str) -> HttpResponse:
    """Record the reveal (time, IP, user agent: evidence) and redirect to the order page,
    which shows the keys in clear once (POST, redirect, GET: a reload reveals nothing)."""
    order = _own_order(request, number)
    wait = throttle_wait(request, "reveal")
    if wait is not None:
        response = _order_page(request, order, status=429, reveal_error=throttled_message(wait))
        response["Retry-After"] = str(wait)
        return response
    try:
        recorded = services.order_record_reveal(
            order=order,
            user=_buyer(request),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except DomainError as exc:
        return _order_page(request, order, status=exc.status_code, reveal_error=exc.message)
    request.session[_reveal_session_key(number)] = recorded.pk
    return redirect(reverse("orders:order", args=[number]) + "#card-keys")


@login_required
@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    """The buyer cancels an unpaid order (orders.services.order_cancel)."""
    order = _own_order(request, number)
    try:
        services.order_cancel(order=order, buyer=_buyer(request))
    except DomainError as exc:
        order.refresh_from_db()
        return _order_page(request, order, status=exc.status_code, cancel_error=exc.message)
    messages.success(request, _("Order %(number)s is cancelled.") % {"number": number})
    return redirect("orders:order", number=number)


@login_required
@require_GET
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = selectors.buyer_orders(_buyer(request))
    page = Paginator(orders, ORDERS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orders/my_orders.html", {"page": page})
