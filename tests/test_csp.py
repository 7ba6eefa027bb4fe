"""Content-Security-Policy: on every response, scripts and styles from our own origin only,
and no page of ours (the site, the admin, Swagger UI) needs an inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PAGES = ["/", "/accounts/login/", "/admin/login/", "/api/docs/", "/healthz", "/no-such-page/"]
# Written into an evidence package (a zip read outside the platform), never served.
NOT_SERVED = {"templates/disputes/package_summary.html"}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_every_response_carries_a_policy_without_inline_script_or_style(client, url):
    response = client.get(url)
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


@pytest.mark.django_db
def test_the_api_answers_with_the_policy_too(api_client):
    response = api_client.get("/api/v1/products/", HTTP_ACCEPT="application/json")
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_swagger_ui_loads_every_script_and_style_from_a_url(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<style" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attributes, body in scripts:
        assert 'src="' in attributes and not body.strip(), attributes
    start = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html)
    assert start, "Swagger UI's start-up script is not loaded from a URL"
    script = client.get(start.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert "/api/schema/" in script.content.decode()


def served_templates() -> list[Path]:
    found = list((ROOT / "templates").rglob("*.html"))
    for app in ("orders", "disputes", "escrow", "kamen_complaints"):
        found += list((ROOT / app / "templates").rglob("*.html"))
    return sorted(p for p in found if str(p.relative_to(ROOT)) not in NOT_SERVED)


def test_no_template_of_ours_has_an_inline_script_style_or_event_handler():
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>"  # a script without src
        r"|<style\b"  # a style element
        r"|\sstyle=[\"']"  # a style attribute
        r"|\son[a-z]+=[\"']"  # an event handler attribute
        r"|javascript:",
        re.I,
    )
    comment = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)
    offenders = []
    for template in served_templates():
        # Comments are not sent; keep their newlines so line numbers stay right.
        text = comment.sub(lambda m: "\n" * m.group().count("\n"), template.read_text("utf-8"))
        for number, line in enumerate(text.splitlines(), 1):
            if inline.search(line):
                offenders.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "blocked by the Content-Security-Policy:\n" + "\n".join(offenders)


def test_htmx_is_told_not_to_inject_its_indicator_style():
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    assert '<meta name="htmx-config"' in base
    assert '"includeIndicatorStyles": false' in base
