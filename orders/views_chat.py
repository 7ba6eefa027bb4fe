"""The buyer's side of the order chat: /orders/<number>/chat/ (orders.chat_pages)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from orders import selectors
from orders.chat_pages import chat_file, chat_page
from orders.models import Order


def _own_order(request: HttpRequest, number: str) -> Order:
    order = selectors.buyer_orders(request.user).filter(number=number).first()  # type: ignore[arg-type]
    if order is None:
        raise Http404(_("No such order."))
    return order


@login_required
@require_http_methods(["GET", "POST"])
def order_chat(request: HttpRequest, number: str) -> HttpResponse:
    order = _own_order(request, number)
    return chat_page(
        request,
        order,
        template="orders/order_chat.html",
        here=reverse("orders:chat", args=[order.number]),
        file_url=lambda pk: reverse("orders:chat_file", args=[order.number, pk]),
    )


@login_required
@require_GET
def order_chat_file(request: HttpRequest, number: str, file_id: int) -> FileResponse:
    return chat_file(request, _own_order(request, number), file_id)
