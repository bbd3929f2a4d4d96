"""Calls to URLs a payload chose (link-back): only where a source's allowlist says, never inward.

A URL is called only when its scheme and host:port are allowed, it carries no userinfo, and the
address its name resolves to (once; that address is the one connected to) is public. Redirects
are not followed. A refusal is `Refused`, naming the rule; nothing is sent.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable
from typing import Any, Literal

import httpx
import msgspec

from gateway.core.http import post_json
from gateway.core.outbound import PermanentError, RetryableError

Resolver = Callable[[str, int], str]
DEFAULT_PORTS = {"https": 443, "http": 80}


class AllowedUrls(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A source's `link_back:` block.

    `hosts` are names or `*.` patterns, optionally with `:port` (without one, only the scheme's
    default port). `schemes: [http]` and `allow_private: true` are UNSAFE outside a test: they let
    a payload make the gateway call plain-text or internal addresses.
    """

    hosts: list[str] = msgspec.field(default_factory=list)
    schemes: list[Literal["https", "http"]] = msgspec.field(default_factory=lambda: ["https"])
    allow_private: bool = False

    def __post_init__(self) -> None:
        for host in self.hosts:
            if not host or "/" in host or "@" in host:
                raise ValueError(f"hosts: {host!r} is not a host name or pattern such as *.soda.io")


class Refused(Exception):
    """The URL breaks `rule`; `detail` says how (never the whole URL: it may be a credential)."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail


def resolve(host: str, port: int) -> str:
    """The first address the name resolves to: the one checked and the one connected to."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RetryableError("the callback host did not resolve") from None
    return str(found[0][4][0])


def check(url: str, allowed: AllowedUrls, resolver: Resolver = resolve) -> tuple[httpx.URL, str]:
    """The parsed URL and the address to connect to, or Refused naming the rule it breaks."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise Refused("url", "not a URL") from None
    if parsed.scheme not in allowed.schemes:
        raise Refused("schemes", f"scheme {parsed.scheme or '(none)'!r} is not allowed ({', '.join(allowed.schemes)})")
    if parsed.userinfo:
        raise Refused("userinfo", "a URL with user:password@ is never called")
    host = parsed.host.lower()
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    if not _host_allowed(host, port, parsed.scheme, allowed.hosts):
        raise Refused("hosts", f"{host}:{port} is not one of them")
    address = resolver(host, port)
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not allowed.allow_private and (not ip.is_global or ip.is_multicast):
        raise Refused("address", f"{host} resolves to {_kind(ip)} address {ip}")
    return parsed, str(ip)


def post_callback(
    url: str, payload: dict[str, Any], *, allowed: AllowedUrls, what: str, timeout: float, resolver: Resolver = resolve
) -> httpx.Response:
    """POST to a checked URL at the checked address; no redirects, and no answer body in any error."""
    parsed, address = check(url, allowed, resolver)
    try:
        return post_json(
            str(parsed.copy_with(host=address)),
            payload,
            what=what,
            timeout=timeout,
            headers={"host": parsed.netloc.decode("ascii")},
            show_body=False,
            trust_env=False,
            extensions={"sni_hostname": parsed.host} if parsed.scheme == "https" else None,
        )
    except PermanentError as exc:
        if exc.http_status is not None and 300 <= exc.http_status < 400:
            detail = f"the callee answered HTTP {exc.http_status}; redirects are not followed"
            raise Refused("redirects", detail) from None
        raise


def _host_allowed(host: str, port: int, scheme: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        name, _, wanted_port = pattern.lower().rpartition(":") if _has_port(pattern) else (pattern.lower(), "", "")
        name = name.strip("[]")
        if wanted_port and int(wanted_port) != port:
            continue
        if not wanted_port and port != DEFAULT_PORTS[scheme]:
            continue
        if name == host or (name.startswith("*.") and fnmatch.fnmatchcase(host, name)):
            return True
    return False


def _has_port(pattern: str) -> bool:
    head, sep, tail = pattern.rpartition(":")
    return bool(sep) and tail.isdigit() and not head.endswith(":")


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return "a non-public"
