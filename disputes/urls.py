from django.urls import path

from disputes.views import collective, complaints, evidence_review, filing, notifications

app_name = "disputes"

urlpatterns = [
    # The buyer's complaint pages (disputes/views/complaints.py).
    path("complaints/", complaints.my_complaints, name="my_complaints"),
    path("complaints/<number:number>/", complaints.complaint, name="complaint"),
    path(
        "complaints/<number:number>/live/status/",
        complaints.complaint_status_part,
        name="complaint_status_part",
    ),
    path(
        "complaints/<number:number>/live/thread/",
        complaints.complaint_thread_part,
        name="complaint_thread_part",
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
    path(
        "complaints/<number:number>/accept-offer/",
        complaints.complaint_accept_offer,
        name="complaint_accept_offer",
    ),
    path(
        "complaints/<number:number>/reject-offer/",
        complaints.complaint_reject_offer,
        name="complaint_reject_offer",
    ),
    path(
        "complaints/<number:number>/withdraw/",
        complaints.complaint_withdraw,
        name="complaint_withdraw",
    ),
    path(
        "complaints/<number:number>/appeal/",
        complaints.complaint_appeal,
        name="complaint_appeal",
    ),
    path("complaints/<number:number>/rate/", complaints.complaint_rate, name="complaint_rate"),
    path("shops/<int:pk>/", complaints.shop, name="shop"),
    # Filing a complaint about an order (disputes/views/filing.py).
    path("orders/<number:number>/complain/", filing.complaint_file, name="complaint_file"),
    path(
        "orders/<number:number>/complain/draft/<slug:file_id>/",
        filing.complaint_draft_file,
        name="complaint_draft_file",
    ),
    # "我也遇到了": a buyer joins a collective case from the order page
    # (disputes/views/collective.py).
    path(
        "orders/<number:number>/collective/join/",
        collective.collective_join_view,
        name="collective_join",
    ),
    path("notifications/", notifications.notifications, name="notifications"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path(
        "complaints/<number:number>/evidence/<int:pk>/review/",
        evidence_review.evidence_review,
        name="evidence_review",
    ),
    path(
        "complaints/<number:number>/evidence/<int:pk>/review/<int:page>.png",
        evidence_review.evidence_review_page,
        name="evidence_review_page",
    ),
]
