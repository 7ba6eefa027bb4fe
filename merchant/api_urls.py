"""The merchant app's API (merchant/api.py): the shop's API keys."""

from django.urls import path

from merchant import api

urlpatterns = [
    path("merchant/api-keys/", api.ApiKeyListCreateView.as_view(), name="api-merchant-api-keys"),
    path(
        "merchant/api-keys/<str:prefix>/",
        api.ApiKeyView.as_view(),
        name="api-merchant-api-key",
    ),
]
