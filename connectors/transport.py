"""A lean transport under the trackers' `requests` sessions: kept-alive `http.client` connections.

`requests` sends through urllib3's pool by default; for the small JSON calls a tracker action makes,
that layer costs a worker more CPU than `http.client` does for the whole exchange. This adapter keeps
what the connectors rely on: `requests`' exceptions (one classification at the client edge), its
timeouts (connect and read), TLS verification with the session's `verify` and `cert`, cookies and
redirects (the session handles both from the response). A streamed body, a proxy or an upload that is
not bytes goes through the session's own adapter instead.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy

_DECODABLE = {"gzip", "deflate", "identity"}
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}  # RFC 9110: safe to send again
_Cert = bytes | str | tuple[bytes | str, bytes | str] | None
_Key = tuple[str, str, int, bool | str, _Cert]  # scheme, host, port, verify, cert


class _Raw:
    """What the session reads from `response.raw`: the headers for its cookie jar, an empty rest."""

    def __init__(self, original: http.client.HTTPResponse) -> None:
        self._original_response = original

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return b""

    def close(self) -> None:
        pass


class KeptAliveAdapter(BaseAdapter):
    """One kept-alive connection per host, verification and thread; the session's adapter for the rest."""

    def __init__(self, fallback: BaseAdapter | None = None) -> None:
        super().__init__()
        self.fallback = fallback or HTTPAdapter()
        self._local = threading.local()
        self._contexts: dict[tuple[bool | str, _Cert], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: _Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        lean = not stream and isinstance(request.body, (bytes, str, type(None)))
        if not lean or (proxies and select_proxy(url, dict(proxies))):
            return self.fallback.send(request, stream, timeout, verify, cert, proxies)
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise requests.exceptions.InvalidURL(f"no connection adapter for {scheme!r} URLs")
        host = parts.hostname or ""
        key: _Key = (scheme, host, parts.port or (443 if scheme == "https" else 80), verify, cert)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = dict(request.headers)
        if not _decodable(headers.get("Accept-Encoding")):
            headers["Accept-Encoding"] = "gzip, deflate"
        method = request.method or "GET"
        for _ in range(2):
            conn, reused = self._connect(request, key, connect_timeout)
            try:
                assert conn.sock is not None
                conn.sock.settimeout(read_timeout)
                conn.request(method, target, body=request.body, headers=headers)
                raw = conn.getresponse()
                content = raw.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._discard(key)
                stale = isinstance(exc, (ConnectionResetError, BrokenPipeError)) and reused
                if not (stale and method in _IDEMPOTENT):  # an idle connection closed as we sent: once more
                    raise _as_requests_error(exc, request, requests.exceptions.ReadTimeout) from exc
        else:  # the second try was on a new connection, so it raised
            raise AssertionError("unreachable")
        if raw.will_close:
            self._discard(key)
        return self._response(request, raw, content)

    def close(self) -> None:
        for conn in getattr(self._local, "connections", {}).values():
            conn.close()
        self._local.connections = {}
        self.fallback.close()

    # -- connections ------------------------------------------------------------------------
    def _connect(
        self, request: requests.PreparedRequest, key: _Key, timeout: float | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's open connection to the host (and True), or a new one; an idle one the server closed
        is replaced."""
        connections: dict[_Key, http.client.HTTPConnection] = self._local.__dict__.setdefault("connections", {})
        conn = connections.get(key)
        if conn is not None and conn.sock is not None and not _dropped(conn.sock):
            return conn, True
        if conn is not None:
            conn.close()
        scheme, host, port, verify, cert = key
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context(verify, cert))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise _as_requests_error(exc, request, requests.exceptions.ConnectTimeout) from exc
        # headers and body go out in two writes: without this, the body waits for the server's
        # delayed ACK of the headers (urllib3 sets it too)
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections[key] = conn
        return conn, False

    def _discard(self, key: _Key) -> None:
        conn = getattr(self._local, "connections", {}).pop(key, None)
        if conn is not None:
            conn.close()

    def _context(self, verify: bool | str, cert: _Cert) -> ssl.SSLContext:
        """One TLS context per verification setting (loading a CA bundle costs milliseconds)."""
        with self._contexts_lock:
            context = self._contexts.get((verify, cert))
            if context is None:
                context = _tls_context(verify, cert)
                self._contexts[(verify, cert)] = context
            return context

    # -- responses --------------------------------------------------------------------------
    def _response(
        self, request: requests.PreparedRequest, raw: http.client.HTTPResponse, content: bytes
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = raw.status
        response.reason = raw.reason
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in raw.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        response.headers = headers
        response.encoding = get_encoding_from_headers(headers)
        response._content = _decoded(request, headers.get("Content-Encoding"), content)
        response._content_consumed = True  # type: ignore[attr-defined]
        response.raw = _Raw(raw)
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # auth handlers (digest) send again through it
        extract_cookies_to_jar(response.cookies, request, response.raw)  # type: ignore[no-untyped-call]
        return response


def _as_requests_error(
    exc: OSError | http.client.HTTPException,
    request: requests.PreparedRequest,
    timeout: type[requests.exceptions.Timeout],
) -> requests.RequestException:
    """The exception `requests` raises for the same failure (the connectors classify those)."""
    if isinstance(exc, TimeoutError):
        return timeout(exc, request=request)
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(exc, request=request)
    return requests.exceptions.ConnectionError(exc, request=request)


def _decodable(accept: str | None) -> bool:
    return accept is not None and all(part.split(";")[0].strip().lower() in _DECODABLE for part in accept.split(","))


def _decoded(request: requests.PreparedRequest, encoding: str | None, content: bytes) -> bytes:
    coding = (encoding or "identity").strip().lower()
    if coding == "identity" or not content:
        return content
    try:
        if coding == "gzip":
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if coding == "deflate":
            try:
                return zlib.decompress(content)
            except zlib.error:
                return zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    except zlib.error as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=request) from exc
    raise requests.exceptions.ContentDecodingError(f"unsupported Content-Encoding {coding!r}", request=request)


def _dropped(sock: socket.socket) -> bool:
    """An idle kept-alive socket that is readable was closed by the server (or sent what nobody asked for)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _tls_context(verify: bool | str, cert: _Cert) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str) and os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH)
    if cert is not None:
        certfile, keyfile = cert if isinstance(cert, tuple) else (cert, None)
        context.load_cert_chain(certfile, keyfile)
    return context


def mount(session: requests.Session) -> None:
    """Send the session's http and https calls through a kept-alive adapter (its current one for the rest)."""
    for prefix in ("https://", "http://"):
        session.mount(prefix, KeptAliveAdapter(session.get_adapter(prefix)))
