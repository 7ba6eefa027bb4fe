"""Error reports leave scrubbed: a real HTTP server on loopback is the Sentry DSN's host, a view
fails holding a card key, an identity number, a token, an API key and a password in its locals,
its request, its extras and its breadcrumbs, and the envelope that arrives holds none of them
(kamen_complaints/error_reporting.py, docs/operations.md "Error reporting")."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import pytest
import sentry_sdk
from django.test import override_settings

from kamen_complaints.error_reporting import FILTERED, init_sentry, scrub
from tests.loopback import LoopbackServer, loopback_server
from tests.ops.urls import API_KEY, CARD_KEY, ID_NUMBER, PASSWORD, PHONE, TOKEN

SECRETS = (CARD_KEY, ID_NUMBER, TOKEN, API_KEY, PASSWORD, PHONE, "sessionvalue42")


@pytest.fixture
def sentry_server() -> Iterator[LoopbackServer]:
    with loopback_server() as server:
        yield server
    client = sentry_sdk.get_client()
    client.close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


def body_of(request) -> str:
    raw = request.body
    encoding = request.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    elif encoding == "deflate":
        raw = zlib.decompress(raw)
    elif encoding:
        raise AssertionError(f"unexpected Content-Encoding {encoding}")
    return raw.decode()


def the_event(sent: str) -> dict:
    """The error event among the envelope's items (one JSON document per line)."""
    for line in sent.splitlines():
        if line.startswith("{") and '"exception"' in line:
            return json.loads(line)
    raise AssertionError("no error event in the envelope")


def frames(event: dict) -> list[dict]:
    return [
        frame
        for value in event["exception"]["values"]
        for frame in value.get("stacktrace", {}).get("frames", [])
    ]


def fail_a_request(client, server: LoopbackServer, **init) -> str:
    port = server.url.rsplit(":", 1)[1]
    assert init_sentry(dsn=f"http://publickey@127.0.0.1:{port}/1", environment="test", **init)
    client.raise_request_exception = False
    client.cookies["sessionid"] = "sessionvalue42"
    with override_settings(ROOT_URLCONF="tests.ops.urls"):
        response = client.post(
            f"/ops-test/fail?token={TOKEN}&page=2",
            {"keys": CARD_KEY, "id_number": ID_NUMBER, "password": PASSWORD, "note": "hi"},
            HTTP_AUTHORIZATION=f"Token {TOKEN}",
            HTTP_X_API_KEY=API_KEY,
        )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    envelopes = [body_of(r) for r in server.wait_for(1) if "/envelope/" in r.path]
    assert envelopes, [r.path for r in server.requests]
    return "\n".join(envelopes)


@pytest.mark.django_db
def test_nothing_secret_leaves_even_with_locals_and_bodies_turned_on(client, sentry_server):
    sent = fail_a_request(client, sentry_server, send_locals=True, request_bodies="always")
    event = the_event(sent)
    # The report arrived, with what an operator needs...
    assert event["exception"]["values"][-1]["type"] == "OrderLookupError"
    assert event["transaction"] == "/ops-test/fail"
    # ...the locals, the body, the headers and the extras were there, and were blanked...
    view = next(frame for frame in frames(event) if frame["function"] == "fails_with_secrets")
    assert view["vars"]["card_key"] == FILTERED
    assert view["vars"]["id_number"] == FILTERED
    assert view["vars"]["token"] == FILTERED
    assert event["request"]["data"]["keys"] == FILTERED
    assert event["request"]["data"]["note"] == "hi"
    # Headers other than the harmless ones are left out by the SDK without default PII, and
    # blanked by name if it ever sends them (test_scrub… below).
    assert "Authorization" not in event["request"].get("headers", {})
    assert event["extra"]["api_key"] == FILTERED
    # ...and not one secret is anywhere in what was sent.
    for secret in SECRETS:
        assert secret not in sent, secret


@pytest.mark.django_db
def test_by_default_no_locals_and_no_body_are_sent(client, sentry_server):
    sent = fail_a_request(client, sentry_server)
    event = the_event(sent)
    assert event["exception"]["values"][-1]["type"] == "OrderLookupError"
    assert not any("vars" in frame for frame in frames(event))
    assert not event["request"].get("data")
    assert "cookies" not in event["request"]
    for secret in SECRETS:
        assert secret not in sent, secret


def test_no_dsn_no_client():
    assert init_sentry(dsn="", environment="test") is False


def test_scrub_blanks_by_name_at_any_depth_and_by_shape_in_text():
    event = {
        "request": {
            "headers": {"Authorization": "Bearer abc", "Cookie": "a=b", "User-Agent": "curl"},
            "data": {"keys": "K1\nK2", "description": "my id is 11010119900307123X"},
        },
        "extra": {"merchant": {"api_key": "x", "name": "Shop"}, "card_keys": ["K1"]},
        "breadcrumbs": {"values": [{"message": "call with Token abc.def", "category": "x"}]},
        "exception": {"values": [{"value": "bad 110101199003071234 or Api-Key zz9"}]},
    }
    clean = scrub(event)
    assert clean["request"]["headers"] == {
        "Authorization": FILTERED,
        "Cookie": FILTERED,
        "User-Agent": "curl",
    }
    assert clean["request"]["data"] == {
        "keys": FILTERED,
        "description": f"my id is {FILTERED}",
    }
    assert clean["extra"] == {
        "merchant": {"api_key": FILTERED, "name": "Shop"},
        "card_keys": FILTERED,
    }
    assert clean["breadcrumbs"]["values"][0]["message"] == f"call with Token {FILTERED}"
    assert clean["exception"]["values"][0]["value"] == f"bad {FILTERED} or Api-Key {FILTERED}"
    # Order numbers and amounts (long digit runs of another length) are kept.
    assert scrub("order 20261208123456 paid 48.00") == "order 20261208123456 paid 48.00"
