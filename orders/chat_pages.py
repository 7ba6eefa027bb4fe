"""The order chat's pages (联系商家, docs/order-chat.md), shared by the buyer's page
(/orders/<number>/chat/) and the shop's (/merchant/chat/<number>/): the thread and a form
that works without JavaScript (POST → redirect → GET); htmx re-fetches the thread part while
the page is open. Every write is orders.services.chat's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kamen_complaints.errors import DomainError
from kamen_complaints.files import private_file_response
from kamen_complaints.forms import add_domain_error
from orders.models import MessageSide, Order
from orders.services import chat

# How often an open thread asks for new messages (htmx; without JavaScript: reload).
POLL_SECONDS = 15

# Service refusals that belong to a field of the form.
FIELD_OF_CODE = {"evidence_invalid": "attachments"}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; their contents are the service's to check."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        items = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class ChatForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": chat.BODY_MAX_CHARS}),
    )
    attachments = MultipleFileField(
        label=gettext_lazy("Images"),
        required=False,
        help_text=gettext_lazy(
            "Up to %(count)s screenshots or photos (JPEG, PNG, WebP) or PDFs, checked like "
            "complaint evidence."
        )
        % {"count": chat.FILES_PER_MESSAGE},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].widget.attrs["accept"] = "image/*,application/pdf"


def chat_page(
    request: HttpRequest,
    order: Order,
    *,
    template: str,
    here: str,
    file_url: Callable[[int], str],
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """GET: the thread (marked read for the caller's side) and the form; `?part=thread`: the
    thread alone, for htmx. POST: post the message, then back to `here` — or, refused, the
    page again with the error beside the form and the text kept."""
    user = cast(User, request.user)
    status = 200
    form = ChatForm()
    if request.method == "POST":
        form = ChatForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                chat.order_message_post(
                    order=order,
                    user=user,
                    body=form.cleaned_data["body"],
                    files=form.cleaned_data["attachments"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=FIELD_OF_CODE)
                status = exc.status_code
            else:
                messages.success(request, _("Message sent."))
                return redirect(f"{here}#latest")
        else:
            status = 400
    thread = chat.order_thread(order=order, user=user)
    if request.method == "GET":
        chat.order_thread_mark_read(order=order, user=user)
    values = {
        "order": order,
        "thread": thread,
        "chat_messages": [
            {
                "message": m,
                "mine": m.side == thread.side,
                "author": _author(m, thread.side),
                "files": [{"item": f, "url": file_url(f.pk)} for f in m.files.all()],
            }
            for m in thread.messages
        ],
        "form": form,
        "here": here,
        "poll_seconds": POLL_SECONDS,
        "limits": {"body": chat.BODY_MAX_CHARS, "files": chat.FILES_PER_MESSAGE},
        **(context or {}),
    }
    if request.GET.get("part") == "thread":
        response = render(request, "orders/_chat_thread.html", values)
    else:
        response = render(request, template, values, status=status)
    add_never_cache_headers(response)
    return response


def _author(message: Any, viewer_side: str) -> str:
    if message.side == MessageSide.SHOP:
        if viewer_side == MessageSide.BUYER:
            return str(message.order.merchant.shop_name)
        return _("%(name)s (shop)") % {"name": message.author.get_username()}
    if viewer_side == MessageSide.BUYER:
        return _("You")
    return _("Buyer %(name)s") % {"name": message.author.get_username()}


def chat_file(request: HttpRequest, order: Order, file_id: int) -> FileResponse:
    """A file of the thread: images inline (pixels the platform re-encoded), PDFs as a
    download; sandboxed and private."""
    item = chat.order_message_file(order=order, user=cast(User, request.user), file_id=file_id)
    return private_file_response(
        item.stored_name,
        content_type=item.content_type,
        filename=item.original_name or item.file_name,
        as_attachment=not item.is_image,
        max_age=3600,
    )
