"""Calling a URL a shop gave us, safely (docs/integrations.md "Which URLs are accepted").

A shop's URL must not become a way into the platform's own network (SSRF): only http(s), no
credentials in it, and every address its host resolves to must be public. The check runs when
the URL is registered and again on every delivery, and the request connects to the very
address that was checked (the name is not resolved a second time, so a DNS answer that changes
between the check and the connection — DNS rebinding — cannot slip through). TLS still
verifies the certificate against the host name.

INTEGRATIONS_ALLOW_PRIVATE_TARGETS (development and tests only) lets loopback and private
addresses through; link-local addresses (169.254.0.0/16 with the cloud metadata address,
fe80::/10) are refused whatever it says.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from kamen_complaints.errors import DomainError

# One try may take at most this long to connect, and to wait for each read.
TIMEOUT_SECONDS = 5.0
# What is kept of an answer (enough for a robot's JSON verdict).
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Kamen-Webhooks/1.0"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused(message: str) -> DomainError:
    return DomainError(message, code="url_refused", status_code=400)


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query


def parse(url: str) -> Target:
    """The URL's parts, or a refusal of its form (scheme, credentials, host, port)."""
    url = (url or "").strip()
    if len(url) > 2000:
        raise refused(_("The URL is too long (at most 2000 characters)."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refused(_("This is not a valid URL.")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refused(_("Only http:// and https:// URLs are accepted."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refused(_("The URL must not contain a user name or password."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise refused(_("The URL has no host name."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path
    )


def address_refusal(address: IPAddress) -> str | None:
    """Why the platform will not call this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return _("Link-local addresses (such as 169.254.169.254) are never accepted.")
    if address.is_global and not address.is_multicast:
        return None
    if address.is_multicast or address.is_unspecified:
        return _("The address %(address)s cannot receive requests.") % {"address": address}
    if settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS and (address.is_loopback or address.is_private):
        return None
    return _(
        "The address %(address)s is a loopback, private or reserved address; "
        "only public addresses are accepted."
    ) % {"address": address}


def resolve(target: Target) -> IPAddress:
    """The address to connect to: the host's addresses, every one of them allowed (a name with
    one private address among public ones is refused)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise refused(
            _("The host name %(host)s cannot be resolved.") % {"host": target.host}
        ) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # an IPv6 scope id
        try:
            addresses.append(ipaddress.ip_address(raw))
        except ValueError:
            continue
    if not addresses:
        raise refused(_("The host name %(host)s cannot be resolved.") % {"host": target.host})
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise refused(reason)
    return addresses[0]


def check(url: str) -> Target:
    """Refuse a URL the platform must not call (its form and where its host resolves to)."""
    target = parse(url)
    resolve(target)
    return target


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class TransportError(Exception):
    """No HTTP answer: refused connection, timeout, TLS failure, a refused address."""


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` after the check, connected to the checked address; no redirect is
    followed (a 3xx is an answer like any other). Raises TransportError without an answer."""
    try:
        target = parse(url)
        address = resolve(target)
    except DomainError as exc:
        raise TransportError(exc.message) from exc
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host,
            target.port,
            timeout=TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)

    def connect_checked(
        address_port: tuple[str, int], timeout: float | None, source: object = None
    ) -> socket.socket:
        # The host name stays for the Host header and TLS; the socket goes to the checked address.
        return socket.create_connection((str(address), address_port[1]), timeout)

    connection._create_connection = connect_checked  # type: ignore[attr-defined]
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        return Answer(status=response.status, body=response.read(MAX_ANSWER_BYTES))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise TransportError(f"{exc.__class__.__name__}: {exc}"[:200]) from exc
    finally:
        connection.close()


def hint(url: str) -> str:
    """What a listing shows of a URL: scheme, host and path, the query (a robot's token) hidden."""
    try:
        target = parse(url)
    except DomainError:
        return url[:60]
    path = target.path.split("?", 1)[0]
    if len(path) > 40:
        path = path[:20] + "…" + path[-8:]
    shown = f"{target.scheme}://{target.host}"
    default = 443 if target.scheme == "https" else 80
    if target.port != default:
        shown += f":{target.port}"
    return (shown + path + ("?…" if "?" in target.path else ""))[:200]
