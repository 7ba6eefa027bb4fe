"""The merchant dashboard under /merchant/ (README "Merchant dashboard").

One namespace, `merchant`; each app keeps its own routes in its own `merchant_urls.py`
(disputes: the complaints; orders: products, stock, sales orders, team, verification;
escrow: the deposit), so `{% url 'merchant:…' %}` names stay flat."""

from django.urls import include, path

app_name = "merchant"

urlpatterns = [
    path("", include("disputes.merchant_urls")),
    path("", include("orders.merchant_urls")),
    path("", include("escrow.merchant_urls")),
]
