from django.urls import path

from disputes import api
from disputes.api.collective import CollectiveCaseDetailView, CollectiveCaseListView
from disputes.api_metrics import MetricsView

urlpatterns = [
    path("disputes/", api.DisputeListCreateView.as_view(), name="api-disputes"),
    path("disputes/<number:number>/", api.DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "disputes/<number:number>/evidence/",
        api.EvidenceUploadView.as_view(),
        name="api-dispute-evidence",
    ),
    path(
        "disputes/<number:number>/evidence/<int:pk>/",
        api.EvidenceFileView.as_view(),
        name="api-dispute-evidence-file",
    ),
    path(
        "disputes/<number:number>/evidence-package/",
        api.EvidencePackageView.as_view(),
        name="api-dispute-evidence-package",
    ),
    path(
        "disputes/<number:number>/messages/", api.MessageView.as_view(), name="api-dispute-messages"
    ),
    path(
        "disputes/<number:number>/respond/", api.RespondView.as_view(), name="api-dispute-respond"
    ),
    path(
        "disputes/<number:number>/accept-offer/",
        api.AcceptOfferView.as_view(),
        name="api-dispute-accept-offer",
    ),
    path(
        "disputes/<number:number>/reject-offer/",
        api.RejectOfferView.as_view(),
        name="api-dispute-reject-offer",
    ),
    path(
        "disputes/<number:number>/withdraw/",
        api.WithdrawView.as_view(),
        name="api-dispute-withdraw",
    ),
    path("disputes/<number:number>/appeal/", api.AppealView.as_view(), name="api-dispute-appeal"),
    path("disputes/<number:number>/rule/", api.RuleView.as_view(), name="api-dispute-rule"),
    path(
        "disputes/<number:number>/request-info/",
        api.RequestInfoView.as_view(),
        name="api-dispute-request-info",
    ),
    path(
        "disputes/<number:number>/recovery/",
        api.RecoveryView.as_view(),
        name="api-dispute-recovery",
    ),
    path("disputes/<number:number>/notes/", api.NoteView.as_view(), name="api-dispute-notes"),
    path("disputes/<number:number>/rating/", api.RatingView.as_view(), name="api-dispute-rating"),
    path("collective-cases/", CollectiveCaseListView.as_view(), name="api-collective-cases"),
    path(
        "collective-cases/<int:pk>/",
        CollectiveCaseDetailView.as_view(),
        name="api-collective-case",
    ),
    path("shops/<int:pk>/record/", api.ShopRecordView.as_view(), name="api-shop-record"),
    path("merchant/stats/", api.MerchantStatsView.as_view(), name="api-merchant-stats"),
    path("notifications/", api.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read/", api.NotificationReadView.as_view(), name="api-notifications-read"),
    path("staff/blacklist/", api.BlacklistView.as_view(), name="api-staff-blacklist"),
    path("staff/metrics/", MetricsView.as_view(), name="api-staff-metrics"),
    path(
        "staff/blacklist/<int:pk>/",
        api.BlacklistEntryView.as_view(),
        name="api-staff-blacklist-entry",
    ),
]
