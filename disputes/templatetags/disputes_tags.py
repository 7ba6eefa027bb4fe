from django import template
from django.contrib.auth.models import AnonymousUser, User

from disputes.selectors import unread_count

register = template.Library()


@register.simple_tag
def unread_notifications(user: User | AnonymousUser) -> int:
    """How many in-app notifications the user has not seen (the nav's badge)."""
    return unread_count(user)
