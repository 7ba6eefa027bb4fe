"""This app's pages of the merchant dashboard, included by kamen_complaints/merchant_urls.py
into the `merchant` namespace (no app_name here)."""

from django.urls import URLPattern, URLResolver, path

from orders import shop_views, team_views

urlpatterns: list[URLPattern | URLResolver] = []

# Products, card-key import and sales orders (orders/shop_views.py).
urlpatterns += [
    path("products/", shop_views.products, name="products"),
    path("products/new/", shop_views.product_new, name="product_new"),
    path("products/<int:pk>/edit/", shop_views.product_edit, name="product_edit"),
    path("products/<int:pk>/active/", shop_views.product_active, name="product_active"),
    path("products/<int:pk>/import/", shop_views.product_import, name="product_import"),
    path("orders/", shop_views.sales_orders, name="orders"),
]

# The shop itself: application, verification, team (orders/team_views.py).
urlpatterns += [
    path("apply/", team_views.apply, name="apply"),
    path("verification/", team_views.verification, name="verification"),
    path("team/", team_views.team, name="team"),
    path("team/<int:pk>/remove/", team_views.team_remove, name="team_remove"),
]
