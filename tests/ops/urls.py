"""Test-only views for tests/ops: a view that fails holding secrets (the Sentry test) and one
that logs and enqueues a task (the request-id tests), under the project's own URLs."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from kamen_complaints.request_context import current_request_id

logger = logging.getLogger("tests.ops")

CARD_KEY = "CK-7Q2W-9F3A-LEAKME"
ID_NUMBER = "11010119900307123X"
TOKEN = "tok4live9abcdef0123456789"
API_KEY = "kamen_ak_5f9c0e1d2b3a4958"
PASSWORD = "Pa55word-leakme"
PHONE = "13800138000"


class OrderLookupError(Exception):
    pass


def fails_with_secrets(request: HttpRequest) -> HttpResponse:
    import sentry_sdk

    card_key = CARD_KEY
    id_number = ID_NUMBER
    token = TOKEN
    sentry_sdk.set_extra("api_key", API_KEY)
    sentry_sdk.set_extra("buyer", {"id_number": id_number, "phone": PHONE})
    # A breadcrumb: the log line quotes the Authorization header and the identity number.
    logger.info("asking the issuer with Bearer %s for %s", token, id_number)
    raise OrderLookupError(f"card key {card_key[:2]}… not found for order {len(token)}")


def logs_and_enqueues(request: HttpRequest) -> HttpResponse:
    from disputes.tasks import notifications_send
    from kamen_complaints.celery import enqueue

    logger.info("enqueueing for request %s", current_request_id())
    enqueue(notifications_send, [])
    return HttpResponse("ok")


urlpatterns = [
    path("ops-test/fail", fails_with_secrets),
    path("ops-test/enqueue", logs_and_enqueues),
    path("", include("kamen_complaints.urls")),
]
