"""This app's pages of the merchant dashboard, included by kamen_complaints/merchant_urls.py
into the `merchant` namespace (no app_name here)."""

from django.urls import URLPattern, URLResolver, path

from escrow import merchant_views

urlpatterns: list[URLPattern | URLResolver] = []

# The deposit page: summary, ledger, top-up and withdrawal (escrow/merchant_views.py).
urlpatterns += [path("deposit/", merchant_views.deposit, name="deposit")]
