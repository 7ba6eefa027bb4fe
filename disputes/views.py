"""The user's in-app notifications (/notifications/): every change that concerns them —
a new complaint, an answer, an offer, a ruling, a payment — and the clock's reminders.
Opening the page marks them read (POST, like any write)."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from disputes import selectors, services

PAGE_SIZE = 20


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    page = Paginator(selectors.inbox(user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "unread": selectors.unread_count(user)}
    return render(request, "disputes/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=cast(User, request.user))
    return redirect("disputes:notifications")
