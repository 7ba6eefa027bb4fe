from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from kamen_complaints.health import healthz
from kamen_complaints.metrics_endpoint import metrics

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("escrow.api_urls")),
    path("", include("integrations.api_urls")),
    path("", include("disputes.api_urls")),
    path("", include("merchant.api_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Prometheus, for the bearer token or the allowed networks only (docs/operations.md).
    path("metrics", metrics, name="metrics"),
    # Before admin.site.urls: the admin's login answers 429 when throttled or locked out.
    path("admin/", include("accounts.admin_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads Swagger UI's start-up script from a URL, not inline, and our
    # template keeps its styles in a file: the Content-Security-Policy allows neither inline.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("merchant/", include("merchant.urls")),
    path("", include("disputes.urls")),
    path("", include("orders.urls")),
]

handler400 = "kamen_complaints.views.bad_request"
handler403 = "kamen_complaints.views.forbidden"
handler404 = "kamen_complaints.views.not_found"
handler500 = "kamen_complaints.views.server_error"
