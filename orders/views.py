from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orders import selectors


def catalogue(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/catalogue.html", {"products": selectors.catalogue_products()})
