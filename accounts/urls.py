"""Account pages, included from kamen_complaints/urls.py under /accounts/. URL names are not
namespaced because settings.LOGIN_URL is "login"."""

from django.urls import path

from accounts import phone_views, views

urlpatterns = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", views.MessageLogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("password_change/", views.PasswordChangeFirstView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        views.PasswordChangeDoneFrameView.as_view(),
        name="password_change_done",
    ),
    path("password_reset/", views.ThrottledPasswordResetView.as_view(), name="password_reset"),
    path(
        "password_reset/done/",
        views.PasswordResetDoneFrameView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmFrameView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        views.PasswordResetCompleteFrameView.as_view(),
        name="password_reset_complete",
    ),
    path("security/", views.security, name="security"),
    path("security/sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("security/phone/", phone_views.phone, name="phone"),
    path("security/phone/verify/", phone_views.phone_verify, name="phone_verify"),
    path("security/phone/remove/", phone_views.phone_remove, name="phone_remove"),
    path("password_reset/sms/", phone_views.password_reset_sms, name="password_reset_sms"),
    path(
        "password_reset/sms/code/",
        phone_views.password_reset_sms_code,
        name="password_reset_sms_code",
    ),
    path("two-step/", views.twostep_verify, name="twostep_verify"),
    path("two-step/setup/", views.twostep_setup, name="twostep_setup"),
    path("two-step/off/", views.twostep_off, name="twostep_off"),
]
