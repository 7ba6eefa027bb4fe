"""The complaints part of the merchant dashboard, included by kamen_complaints/merchant_urls.py
into the `merchant` namespace (no app_name here): the dashboard's home, the complaint inbox
and a complaint's page with its answer forms (disputes/merchant_views.py)."""

from django.urls import URLPattern, URLResolver, path

from disputes import merchant_views as views
from disputes import performance_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("complaints/", views.complaints, name="complaints"),
    path("complaints/<number:number>/", views.complaint, name="complaint"),
    path(
        "complaints/<number:number>/live/thread/",
        views.complaint_thread_part,
        name="complaint_thread_part",
    ),
    path(
        "complaints/<number:number>/accept-refund/",
        views.complaint_accept_refund,
        name="complaint_accept_refund",
    ),
    path(
        "complaints/<number:number>/accept-replace/",
        views.complaint_accept_replace,
        name="complaint_accept_replace",
    ),
    path("complaints/<number:number>/offer/", views.complaint_offer, name="complaint_offer"),
    path("complaints/<number:number>/contest/", views.complaint_contest, name="complaint_contest"),
    path("complaints/<number:number>/message/", views.complaint_message, name="complaint_message"),
    path(
        "complaints/<number:number>/evidence/",
        views.complaint_evidence,
        name="complaint_evidence",
    ),
    path(
        "complaints/<number:number>/evidence/<int:pk>/image/",
        views.complaint_evidence_image,
        name="complaint_evidence_image",
    ),
]

# The shop record over 7 / 30 / 90 days beside the median (disputes/performance_views.py).
urlpatterns.append(path("performance/", performance_views.performance, name="performance"))
