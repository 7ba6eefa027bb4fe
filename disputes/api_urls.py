from django.urls import path

from disputes import api

urlpatterns = [
    path("disputes/", api.DisputeListCreateView.as_view(), name="api-disputes"),
    path("disputes/<str:number>/", api.DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "disputes/<str:number>/evidence/",
        api.EvidenceUploadView.as_view(),
        name="api-dispute-evidence",
    ),
    path(
        "disputes/<str:number>/evidence/<int:pk>/",
        api.EvidenceFileView.as_view(),
        name="api-dispute-evidence-file",
    ),
    path(
        "disputes/<str:number>/evidence-package/",
        api.EvidencePackageView.as_view(),
        name="api-dispute-evidence-package",
    ),
    path("disputes/<str:number>/messages/", api.MessageView.as_view(), name="api-dispute-messages"),
    path("disputes/<str:number>/respond/", api.RespondView.as_view(), name="api-dispute-respond"),
    path(
        "disputes/<str:number>/accept-offer/",
        api.AcceptOfferView.as_view(),
        name="api-dispute-accept-offer",
    ),
    path(
        "disputes/<str:number>/reject-offer/",
        api.RejectOfferView.as_view(),
        name="api-dispute-reject-offer",
    ),
    path(
        "disputes/<str:number>/withdraw/", api.WithdrawView.as_view(), name="api-dispute-withdraw"
    ),
    path("disputes/<str:number>/appeal/", api.AppealView.as_view(), name="api-dispute-appeal"),
    path("disputes/<str:number>/rule/", api.RuleView.as_view(), name="api-dispute-rule"),
    path(
        "disputes/<str:number>/request-info/",
        api.RequestInfoView.as_view(),
        name="api-dispute-request-info",
    ),
    path(
        "disputes/<str:number>/recovery/", api.RecoveryView.as_view(), name="api-dispute-recovery"
    ),
    path("disputes/<str:number>/notes/", api.NoteView.as_view(), name="api-dispute-notes"),
    path("staff/blacklist/", api.BlacklistView.as_view(), name="api-staff-blacklist"),
    path(
        "staff/blacklist/<int:pk>/",
        api.BlacklistEntryView.as_view(),
        name="api-staff-blacklist-entry",
    ),
]
