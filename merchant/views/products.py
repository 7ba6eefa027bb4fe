"""The merchant dashboard's stock pages (README "Merchant dashboard"):

- /merchant/products/ — every product with its stock, low stock flagged; take a product off
  sale or put it back.
- /merchant/products/new/ and /merchant/products/<id>/edit/ — create and edit a product.
- /merchant/products/<id>/import/ — card-key import by paste or file, then the report:
  imported / duplicates / rejected, with the line and the reason of each key not imported.

The owner and the team members use them alike (docs/rules.md: the team manages stock and
sees orders). Every write is one orders.services call, the same the API makes; the card-key
import goes through the API's `import` throttle and, in the service, the active-shop rule.
Another shop's product is a 404.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kamen_complaints.api import throttle_wait, throttled_message
from kamen_complaints.errors import DomainError
from kamen_complaints.forms import add_domain_error
from merchant.access import current_merchant, merchant_required
from merchant.forms import FIELD_OF_CODE, CardKeyImportForm, ProductForm
from orders import selectors, services
from orders.models import Product

# A report lists at most this many keys that were not imported (with their line numbers);
# the counts are always complete.
REPORT_PROBLEMS_SHOWN = 200
_REPORT_SESSION_KEY = "kamen:import-report:%s"


def _own_product(request: HttpRequest, pk: int) -> Product:
    product = selectors.merchant_products(current_merchant(request)).filter(pk=pk).first()
    if product is None:
        raise Http404(_("No such product."))
    return product


# --- Products -----------------------------------------------------------------------------


@merchant_required
@require_GET
def products(request: HttpRequest) -> HttpResponse:
    """Small enough to list whole (a shop has tens of products, not thousands): one query."""
    rows = list(selectors.merchant_products(current_merchant(request)).order_by("-active", "id"))
    for product in rows:
        stock = getattr(product, "in_stock", 0)
        product.low_stock = (  # type: ignore[attr-defined]
            product.active and product.delivers_card_keys and stock < selectors.LOW_STOCK_THRESHOLD
        )
    context = {
        "products": rows,
        "low_count": sum(1 for p in rows if getattr(p, "low_stock", False)),
        "threshold": selectors.LOW_STOCK_THRESHOLD,
    }
    return render(request, "merchant/products.html", context)


@merchant_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = ProductForm(request.POST)
        if form.is_valid():
            values = form.cleaned_data
            try:
                product = services.product_create(
                    merchant=current_merchant(request),
                    name=values["name"],
                    kind=values["kind"],
                    face_value=values["face_value"],
                    price=values["price"],
                    source=values["source"],
                    active=values["active"],
                    description=values["description"],
                    delivery_minutes=values["delivery_minutes"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                messages.success(request, _("Product %(name)s created.") % {"name": product.name})
                if product.delivers_card_keys:
                    return redirect("merchant:product_import", pk=product.pk)
                return redirect("merchant:products")
        else:
            status = 400
    else:
        form = ProductForm()
    return render(
        request, "merchant/product_form.html", {"form": form, "product": None}, status=status
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = _own_product(request, pk)
    status = 200
    if request.method == "POST":
        form = ProductForm(request.POST)
        if form.is_valid():
            try:
                services.product_update(product=product, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                messages.success(request, _("Product %(name)s saved.") % {"name": product.name})
                return redirect("merchant:products")
        else:
            status = 400
    else:
        form = ProductForm(
            initial={
                "name": product.name,
                "kind": product.kind,
                "face_value": f"{product.face_value:.2f}",
                "price": f"{product.price:.2f}",
                "source": product.source,
                "description": product.description,
                "delivery_minutes": product.delivery_minutes,
                "active": product.active,
            }
        )
    return render(
        request,
        "merchant/product_form.html",
        {"form": form, "product": product},
        status=status,
    )


@merchant_required
@require_POST
def product_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a product off sale (`active=0`) or put it back (`active=1`); its orders stay."""
    product = _own_product(request, pk)
    active = request.POST.get("active") == "1"
    try:
        services.product_update(product=product, active=active)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if active:
            messages.success(request, _("%(name)s is on sale again.") % {"name": product.name})
        else:
            messages.success(
                request,
                _("%(name)s is off sale: buyers no longer see it; its orders stay.")
                % {"name": product.name},
            )
    return redirect("merchant:products")


# --- Card-key import ----------------------------------------------------------------------


def _import_page(
    request: HttpRequest,
    product: Product,
    form: CardKeyImportForm,
    *,
    status: int = 200,
    report: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "product": product,
        "form": form,
        "report": report,
        "shop_active": current_merchant(request).is_active,
    }
    return render(request, "merchant/product_import.html", context, status=status)


@merchant_required
@require_http_methods(["GET", "POST"])
def product_import(request: HttpRequest, pk: int) -> HttpResponse:
    """POST imports, keeps the report in the session and redirects; the GET that follows
    shows it once (a reload does not import again)."""
    product = _own_product(request, pk)
    session_key = _REPORT_SESSION_KEY % product.pk
    if request.method == "GET":
        report = request.session.pop(session_key, None)
        return _import_page(request, product, CardKeyImportForm(), report=report)
    form = CardKeyImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, product, form, status=400)
    # The API's throttle (scope `import`): a report says which keys are already on the
    # platform, so the page is no faster way to ask than the API.
    wait = throttle_wait(request, "import")
    if wait is not None:
        form.add_error(None, throttled_message(wait))
        response = _import_page(request, product, form, status=429)
        response["Retry-After"] = str(wait)
        return response
    try:
        result = services.card_keys_import(
            product=product, data=form.payload(), imported_by=cast(User, request.user)
        )
    except DomainError as exc:
        add_domain_error(form, exc, fields=FIELD_OF_CODE)
        return _import_page(request, product, form, status=exc.status_code)
    report = result.as_dict()
    problems = list(report["problems"])  # type: ignore[call-overload]
    report["problems"] = [
        {"line": p["line"], "problem": p["problem"], "reason": str(p["reason"])}
        for p in problems[:REPORT_PROBLEMS_SHOWN]
    ]
    report["problems_hidden"] = max(len(problems) - REPORT_PROBLEMS_SHOWN, 0)
    request.session[session_key] = report
    return redirect("merchant:product_import", pk=product.pk)
