"""The user's in-app notifications (/notifications/): every change that concerns them —
a new complaint, an answer, an offer, a ruling, a payment — and the clock's reminders, in the
reader's language (disputes/notices.py). Opening a page of them marks those read; "mark all
as read" (POST) the rest."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from disputes import selectors, services

PAGE_SIZE = 20


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    """One line per complaint and minute, in the reader's language, each linking to its
    complaint. Looking changes nothing (a GET never writes): a line is read when its reader
    says so, by its own "Mark as read" button or "Mark all as read" (`notifications_read`)."""
    user = cast(User, request.user)
    page = Paginator(selectors.inbox_groups(user), PAGE_SIZE).get_page(request.GET.get("page"))
    lines = selectors.inbox_lines(user, list(page.object_list))
    context = {"page": page, "lines": lines, "unread": selectors.unread_count(user)}
    return render(request, "disputes/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """POST: mark read the notifications named in `ids` (one line's button), or all of the
    reader's (no `ids`); only the reader's own are touched. Back to the page it came from."""
    raw = request.POST.getlist("ids")
    ids = [int(value) for value in raw if value.isascii() and value.isdigit() and len(value) < 19]
    if raw and not ids:
        return redirect("disputes:notifications")  # nothing recognisable named: nothing read
    services.notifications_mark_read(user=cast(User, request.user), ids=ids if raw else None)
    page = request.POST.get("page", "")
    url = reverse("disputes:notifications")
    if page.isascii() and page.isdigit() and page != "1" and len(page) < 9:
        url += f"?page={page}"
    return redirect(url)
