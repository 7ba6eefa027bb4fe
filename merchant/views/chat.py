"""The shop's side of the order chat (联系商家, docs/order-chat.md).

- /merchant/chat/ — the inbox: the shop's orders whose buyer wrote and got no answer yet,
  the longest waiting first, with how long (orders.services.chat.shop_chat_inbox);
- /merchant/chat/<number>/ — one order's thread and the answer form (orders.chat_pages, the
  buyer's page's own code: POST → redirect → GET, htmx polling optional).

The shop's owner and its team members alike; another shop's order is the 404 page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from merchant.access import current_merchant, merchant_required
from orders.chat_pages import chat_file, chat_page
from orders.models import Order
from orders.services import chat

PAGE_SIZE = 20


def _shop_order(request: HttpRequest, number: str) -> Order:
    order = (
        Order.objects.select_related("merchant", "product", "buyer")
        .filter(merchant=current_merchant(request), number=number)
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order


@merchant_required
@require_GET
def chat_inbox(request: HttpRequest) -> HttpResponse:
    merchant = current_merchant(request)
    page = Paginator(chat.shop_chat_inbox(merchant), PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {"thread": t, "waited": now - t.waiting_since if t.waiting_since else None}
        for t in page.object_list
    ]
    return render(request, "merchant/chat_inbox.html", {"page": page, "rows": rows})


@merchant_required
@require_http_methods(["GET", "POST"])
def chat_thread(request: HttpRequest, number: str) -> HttpResponse:
    order = _shop_order(request, number)
    return chat_page(
        request,
        order,
        template="merchant/chat_thread.html",
        here=reverse("merchant:chat_thread", args=[order.number]),
        file_url=lambda pk: reverse("merchant:chat_file", args=[order.number, pk]),
    )


@merchant_required
@require_GET
def chat_thread_file(request: HttpRequest, number: str, file_id: int) -> FileResponse:
    return chat_file(request, _shop_order(request, number), file_id)
