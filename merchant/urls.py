"""The merchant dashboard under /merchant/ (README "Merchant dashboard"), one namespace,
`merchant`, so `{% url 'merchant:…' %}` names stay flat. Each page module is in
merchant/views/."""

from django.urls import URLPattern, URLResolver, path

from merchant.views import (
    api_keys,
    application,
    chat,
    collective,
    complaints,
    deposit,
    home,
    integrations,
    performance,
    products,
    reminders,
    sales,
    team,
)

app_name = "merchant"

urlpatterns: list[URLPattern | URLResolver] = []

# The dashboard's home, the complaint inbox and a complaint's page with its answer forms
# (merchant/views/home.py, complaints.py).
urlpatterns += [
    path("", home.home, name="home"),
    path("complaints/", complaints.complaints, name="complaints"),
    path("complaints/<number:number>/", complaints.complaint, name="complaint"),
    path(
        "complaints/<number:number>/live/thread/",
        complaints.complaint_thread_part,
        name="complaint_thread_part",
    ),
    path(
        "complaints/<number:number>/accept-refund/",
        complaints.complaint_accept_refund,
        name="complaint_accept_refund",
    ),
    path(
        "complaints/<number:number>/accept-replace/",
        complaints.complaint_accept_replace,
        name="complaint_accept_replace",
    ),
    path("complaints/<number:number>/offer/", complaints.complaint_offer, name="complaint_offer"),
    path(
        "complaints/<number:number>/contest/",
        complaints.complaint_contest,
        name="complaint_contest",
    ),
    path(
        "complaints/<number:number>/message/",
        complaints.complaint_message,
        name="complaint_message",
    ),
    path(
        "complaints/<number:number>/evidence/",
        complaints.complaint_evidence,
        name="complaint_evidence",
    ),
    path(
        "complaints/<number:number>/evidence/<int:pk>/image/",
        complaints.complaint_evidence_image,
        name="complaint_evidence_image",
    ),
]

# The shop's collective cases: one case's figures and the shop's one answer for the batch
# (merchant/views/collective.py); the open ones are on the home page.
urlpatterns += [path("cases/<int:pk>/", collective.collective_case, name="collective_case")]

# Buyers' messages on orders: the inbox of unanswered ones and a thread (merchant/views/chat.py).
urlpatterns += [
    path("chat/", chat.chat_inbox, name="chat"),
    path("chat/<number:number>/", chat.chat_thread, name="chat_thread"),
    path("chat/<number:number>/files/<int:file_id>/", chat.chat_thread_file, name="chat_file"),
]

# The shop record over 7 / 30 / 90 days beside the median (merchant/views/performance.py).
urlpatterns += [path("performance/", performance.performance, name="performance")]

# Products, card-key import and sales orders (merchant/views/products.py, sales.py).
urlpatterns += [
    path("products/", products.products, name="products"),
    path("products/new/", products.product_new, name="product_new"),
    path("products/<int:pk>/edit/", products.product_edit, name="product_edit"),
    path("products/<int:pk>/active/", products.product_active, name="product_active"),
    path("products/<int:pk>/import/", products.product_import, name="product_import"),
    path("orders/", sales.sales_orders, name="orders"),
]

# The shop itself: application, verification, team (merchant/views/application.py, team.py).
urlpatterns += [
    path("apply/", application.apply, name="apply"),
    path("verification/", application.verification, name="verification"),
    path("team/", team.team, name="team"),
    path("team/<int:pk>/remove/", team.team_remove, name="team_remove"),
]

# The deposit page: summary, ledger, top-up and withdrawal (merchant/views/deposit.py).
urlpatterns += [path("deposit/", deposit.deposit, name="deposit")]

# When the shop is reminded of its deadlines: quiet hours and the daily digest
# (merchant/views/reminders.py).
urlpatterns += [path("reminders/", reminders.reminders_page, name="reminders")]

# The shop's API keys, owner only (merchant/views/api_keys.py).
urlpatterns += [
    path("api-keys/", api_keys.api_keys, name="api_keys"),
    path("api-keys/<str:prefix>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
]

# The shop's webhooks and group robots, owner only (merchant/views/integrations.py).
urlpatterns += [
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/webhooks/", integrations.webhook_add, name="integrations_webhook_add"),
    path("integrations/robots/", integrations.robot_add, name="integrations_robot_add"),
    path("integrations/<int:pk>/test/", integrations.endpoint_test, name="integrations_test"),
    path(
        "integrations/<int:pk>/enabled/",
        integrations.endpoint_enabled,
        name="integrations_enabled",
    ),
    path(
        "integrations/<int:pk>/rotate/",
        integrations.endpoint_rotate,
        name="integrations_rotate",
    ),
    path(
        "integrations/<int:pk>/delete/",
        integrations.endpoint_delete,
        name="integrations_delete",
    ),
]
