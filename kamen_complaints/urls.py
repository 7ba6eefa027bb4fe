from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kamen_complaints.health import healthz

api_v1 = [
    path("", include("orders.api_urls")),
    path("", include("escrow.api_urls")),
    path("", include("disputes.api_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("kamen_complaints.accounts")),
    path("", include("disputes.urls")),
    path("", include("orders.urls")),
]

handler404 = "kamen_complaints.views.not_found"
handler500 = "kamen_complaints.views.server_error"
