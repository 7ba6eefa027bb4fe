"""Account pages, included from kamen_complaints/urls.py under /accounts/. URL names are not
namespaced because settings.LOGIN_URL is "login"."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", views.MessageLogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
]
