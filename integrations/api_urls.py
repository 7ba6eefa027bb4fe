"""/api/v1/merchant/webhooks/… (integrations/api.py)."""

from django.urls import path

from integrations import api

urlpatterns = [
    path("merchant/webhooks/", api.WebhookListView.as_view(), name="api-merchant-webhooks"),
    path(
        "merchant/webhooks/<int:pk>/",
        api.WebhookDetailView.as_view(),
        name="api-merchant-webhook",
    ),
    path(
        "merchant/webhooks/<int:pk>/rotate/",
        api.WebhookRotateView.as_view(),
        name="api-merchant-webhook-rotate",
    ),
    path(
        "merchant/webhooks/<int:pk>/test/",
        api.WebhookTestView.as_view(),
        name="api-merchant-webhook-test",
    ),
    path(
        "merchant/webhooks/<int:pk>/deliveries/",
        api.WebhookDeliveriesView.as_view(),
        name="api-merchant-webhook-deliveries",
    ),
]
