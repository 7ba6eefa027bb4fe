from django.urls import path

from disputes import buyer_views, views

app_name = "disputes"

urlpatterns = [
    # The buyer's complaint pages (disputes/buyer_views.py).
    path("complaints/", buyer_views.my_complaints, name="my_complaints"),
    path("complaints/<number:number>/", buyer_views.complaint, name="complaint"),
    path(
        "complaints/<number:number>/live/status/",
        buyer_views.complaint_status_part,
        name="complaint_status_part",
    ),
    path(
        "complaints/<number:number>/live/thread/",
        buyer_views.complaint_thread_part,
        name="complaint_thread_part",
    ),
    path(
        "complaints/<number:number>/message/",
        buyer_views.complaint_message,
        name="complaint_message",
    ),
    path(
        "complaints/<number:number>/evidence/",
        buyer_views.complaint_evidence,
        name="complaint_evidence",
    ),
    path(
        "complaints/<number:number>/evidence/<int:pk>/image/",
        buyer_views.complaint_evidence_image,
        name="complaint_evidence_image",
    ),
    path(
        "complaints/<number:number>/accept-offer/",
        buyer_views.complaint_accept_offer,
        name="complaint_accept_offer",
    ),
    path(
        "complaints/<number:number>/reject-offer/",
        buyer_views.complaint_reject_offer,
        name="complaint_reject_offer",
    ),
    path(
        "complaints/<number:number>/withdraw/",
        buyer_views.complaint_withdraw,
        name="complaint_withdraw",
    ),
    path(
        "complaints/<number:number>/appeal/",
        buyer_views.complaint_appeal,
        name="complaint_appeal",
    ),
    path("complaints/<number:number>/rate/", buyer_views.complaint_rate, name="complaint_rate"),
    path("shops/<int:pk>/", buyer_views.shop, name="shop"),
    # Filing a complaint about an order (disputes/views.py complaint_file).
    path("orders/<number:number>/complain/", views.complaint_file, name="complaint_file"),
    path(
        "orders/<number:number>/complain/draft/<slug:file_id>/",
        views.complaint_draft_file,
        name="complaint_draft_file",
    ),
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
