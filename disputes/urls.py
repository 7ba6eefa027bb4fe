from django.urls import path

from disputes import views

app_name = "disputes"

urlpatterns = [
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path(
        "complaints/<number:number>/evidence/<int:pk>/review/",
        views.evidence_review,
        name="evidence_review",
    ),
    path(
        "complaints/<number:number>/evidence/<int:pk>/review/<int:page>.png",
        views.evidence_review_page,
        name="evidence_review_page",
    ),
]
