"""Celery tasks: thin shells around services of the same name."""

from __future__ import annotations

from celery import shared_task

from accounts import phones, services


@shared_task
def password_reset_send(*, email: str, domain: str, use_https: bool, language: str) -> None:
    services.password_reset_send(email=email, domain=domain, use_https=use_https, language=language)


@shared_task
def password_reset_sms_send(*, phone: str) -> None:
    phones.password_reset_sms_send(phone=phone)
