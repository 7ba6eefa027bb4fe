"""GET /metrics: the Prometheus exposition (docs/operations.md "Metrics and alerts").

Not public. A scrape is answered when it carries `Authorization: Bearer <METRICS_TOKEN>`, or
when it comes straight (no proxy header) from an address in METRICS_ALLOWED_NETWORKS (default
loopback only). Anyone else gets the site's ordinary 404 page, the same as for a path that
does not exist, so the endpoint is not even confirmed. It is an ordinary URL behind every
middleware (security headers, CSP, the request id).

What it exports: django-prometheus's request and database figures (its middleware pair and
database wrapper, settings.py), the process figures of prometheus_client, and the platform's
own gauges, computed at scrape time by the collectors the apps register here at start-up
(`register_collector`; the project package imports no app) — the complaints app's are in
disputes/gauges.py.

Under gunicorn each worker process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set
(an empty directory per start, docker-compose.yml) the figures of every worker are summed.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

# The platform's gauges: a registry of their own, so a second registration at start-up (the
# test runner's, a reloaded URLconf) is a no-op rather than prometheus_client's duplicate error.
platform_registry = CollectorRegistry(auto_describe=False)
_registered: set[str] = set()

# Headers a reverse proxy adds: a request carrying one came through a proxy, so its
# REMOTE_ADDR is the proxy's and says nothing about who asks (a proxy on the same host would
# make every visitor "loopback"). Such a scrape needs the token.
PROXY_META = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def register_collector(name: str, collector: Collector) -> None:
    """An app's collector of platform gauges, registered once under `name` at start-up."""
    if name in _registered:
        return
    platform_registry.register(collector)
    _registered.add(name)


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return parse_networks(values)


def parse_networks(
    values: Iterable[str],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_NETWORKS as networks (settings.py refuses a bad one at start)."""
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS: {value!r} is not an address or a CIDR network."
            ) from exc
    return networks


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, offered = header.partition(" ")
    if token and scheme.lower() == "bearer" and offered:
        return hmac.compare_digest(offered.strip().encode(), token.encode())
    if header or any(request.META.get(name) for name in PROXY_META):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    )


def _process_registry() -> CollectorRegistry:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    # Asked first, so a refused caller learns nothing, not even which methods exist.
    if not scrape_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body = generate_latest(_process_registry()) + generate_latest(platform_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
