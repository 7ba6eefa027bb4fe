from django import template
from django.contrib.auth.models import AnonymousUser, User
from django.utils.html import format_html

from disputes.models import Dispute
from disputes.selectors import case_origin, unread_count

register = template.Library()


@register.simple_tag
def unread_notifications(user: User | AnonymousUser) -> int:
    """How many in-app notifications the user has not seen (the nav's badge)."""
    return unread_count(user)


@register.simple_tag
def case_origin_line(dispute: Dispute) -> str:
    """A small line under a case a payment channel's complaint opened (来自微信支付消费者投诉
    and the channel's number); nothing for a case filed here. The rule: selectors.case_origin."""
    origin = case_origin(dispute)
    if not origin.line:
        return ""
    return format_html('<p class="case-origin" data-origin="{}">{}</p>', origin.origin, origin.line)
