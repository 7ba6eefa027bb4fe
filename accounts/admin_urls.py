"""The admin site's login, included from kamen_complaints/urls.py under /admin/ before the admin
itself, so it answers 429 when the throttle or the lockout refuses (accounts/views.py)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.admin_login, name="admin-login"),
]
