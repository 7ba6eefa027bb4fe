"""No Content-Security-Policy violation in a real browser: the site (htmx and site.js), the
admin and Swagger UI, whose start-up script must run for the operations to show."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_site_the_admin_and_swagger_ui_run_without_a_policy_violation(
    chromium: Any, live_server: Any, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="csp-admin", is_staff=True, is_superuser=True)
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        page.goto("/admin/login/")
        page.fill("#id_username", "csp-admin")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for url in ["/", "/admin/", "/admin/disputes/dispute/", "/api/docs/"]:
            response = page.goto(url)
            assert "script-src 'self'" in response.headers["content-security-policy"], url
            page.wait_for_load_state("networkidle")
        # Swagger UI ran its start-up script: the operations are on the page.
        assert page.locator(".opblock").count() > 10
    finally:
        context.close()
    assert not violations, violations
