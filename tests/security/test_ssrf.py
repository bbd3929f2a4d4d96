"""A callback URL from a payload reaches only what the source's link_back allowlist names.

Each attack is a Soda incident whose incidentLinkCallbackUrl points somewhere it must not; the
execution is `skipped`, names the rule that refused it, and the listeners the test started saw
no request. Loopback listeners are reachable only through the test-only (unsafe) allowlist keys.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.core.callbacks import AllowedUrls, Refused, check
from gateway.core.outbound import RetryableError
from gateway.receive.sources import ADAPTERS, SourceConfig
from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, payload

SODA_TOKEN = "soda-t0ken-for-ssrf"
SECRET_PATH = "/integrations/webhook/8224bbc2/incident-link/510fad8c/uLsecretKr6"


class Listener:
    """A loopback HTTP server that records every request and answers with `status` (and `location`)."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        self.requests: list[str] = []
        self.status = status
        self.location = location
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                self.rfile.read(length)
                listener.requests.append(self.path)
                self.send_response(listener.status)
                if listener.location:
                    self.send_header("location", listener.location)
                body = b"internal-service-secret-answer"
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allowed() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.stop()


@pytest.fixture
def victim() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.stop()


def run_link_back(
    make_gateway: MakeHarness, trackers: Trackers, link_back: str | None, url: str
) -> list[dict[str, Any]]:
    """One Soda incident with this callback URL through a gateway; its link_back executions."""
    files = trackers.mappings()
    extra = f", link_back: {link_back}" if link_back else ""
    files["sources.yaml"] += f'  soda: {{kind: soda, token: "{SODA_TOKEN}"{extra}}}\n'
    files["flows.yaml"] = files["flows.yaml"].replace("source: [qualytics, generic]", "source: [soda]")
    gateway = make_gateway(files, env=TRACKER_ENV)
    body = json.loads(payload("soda_cloud.json"))
    body["incidentLinkCallbackUrl"] = url
    response = gateway.post("soda", json.dumps(body).encode(), headers={"authorization": f"Bearer {SODA_TOKEN}"})
    assert response.status_code == 202, response.text
    gateway.drain()
    executions = [e for e in gateway.executions() if e["action"] == "link_back"]
    assert len(executions) == 2  # one per tracker the ticket went to
    return executions


def loopback(port: int) -> str:
    return f'{{hosts: ["127.0.0.1:{port}"], schemes: [http], allow_private: true}}'


ATTACKS = [
    # name, link_back config, callback URL, the rule that refuses it
    ("loopback", lambda a, v: f'{{hosts: ["127.0.0.1:{v}"], schemes: [http]}}', "http://127.0.0.1:{v}", "address"),
    ("other port", lambda a, v: loopback(a), "http://127.0.0.1:{v}", "hosts"),
    ("userinfo", lambda a, v: loopback(a), "http://user:pw@127.0.0.1:{a}", "userinfo"),
    ("decimal ip", lambda a, v: loopback(a), "http://2130706433:{a}", "hosts"),
    ("http scheme", lambda a, v: f'{{hosts: ["127.0.0.1:{a}"], allow_private: true}}', "http://127.0.0.1:{a}", "schemes"),  # noqa: E501
    ("off the allowlist", lambda a, v: loopback(a), "http://localhost:{a}", "hosts"),
    ("soda default", lambda a, v: None, "https://metadata.internal", "hosts"),
    ("soda default, plain http", lambda a, v: None, "http://127.0.0.1:{a}", "schemes"),
]


@pytest.mark.parametrize(("name", "config", "url", "rule"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_an_attack_url_is_skipped_naming_the_rule_and_never_called(
    make_gateway: MakeHarness,
    trackers: Trackers,
    allowed: Listener,
    victim: Listener,
    name: str,
    config: Any,
    url: str,
    rule: str,
) -> None:
    callback = url.format(a=allowed.port, v=victim.port) + SECRET_PATH
    executions = run_link_back(make_gateway, trackers, config(allowed.port, victim.port), callback)
    for execution in executions:
        assert execution["status"] == "skipped", execution
        assert f"rule sources.soda.link_back.{rule}" in execution["error"]
        assert "uLsecretKr6" not in execution["error"]
    assert victim.requests == []  # the listener saw no request
    assert allowed.requests == []


def test_a_redirect_is_not_followed(
    make_gateway: MakeHarness, trackers: Trackers, allowed: Listener, victim: Listener
) -> None:
    allowed.status, allowed.location = 302, f"http://127.0.0.1:{victim.port}/internal"
    callback = f"http://127.0.0.1:{allowed.port}{SECRET_PATH}"
    executions = run_link_back(make_gateway, trackers, loopback(allowed.port), callback)
    for execution in executions:
        assert execution["status"] == "skipped"
        assert "rule sources.soda.link_back.redirects" in execution["error"]
    assert victim.requests == []  # the listener saw no request


def test_an_allowed_url_is_called_and_its_answer_never_shown(
    make_gateway: MakeHarness, trackers: Trackers, allowed: Listener
) -> None:
    executions = run_link_back(
        make_gateway, trackers, loopback(allowed.port), f"http://127.0.0.1:{allowed.port}{SECRET_PATH}"
    )
    assert [e["status"] for e in executions] == ["succeeded", "succeeded"]
    assert allowed.requests == [SECRET_PATH, SECRET_PATH]


def test_a_refusing_callee_is_reported_by_status_code_only(
    make_gateway: MakeHarness, trackers: Trackers, allowed: Listener
) -> None:
    allowed.status = 403  # the callee's answer is data the payload's author must not read back
    executions = run_link_back(
        make_gateway, trackers, loopback(allowed.port), f"http://127.0.0.1:{allowed.port}{SECRET_PATH}"
    )
    for execution in executions:
        assert execution["status"] == "failed"
        assert "HTTP 403" in execution["error"]
        assert "internal-service-secret-answer" not in execution["error"]


def resolver_to(address: str) -> Any:
    return lambda host, port: address


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.100.100.200", "non-public"),  # Alibaba's metadata, shared address space
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00:ec2::254", "private"),  # AWS metadata over IPv6
    ],
)
def test_a_name_resolving_inward_is_refused_on_the_resolved_address(address: str, kind: str) -> None:
    with pytest.raises(Refused) as refused:
        check("https://hooks.soda.io/x", AllowedUrls(hosts=["*.soda.io"]), resolver_to(address))
    assert refused.value.rule == "address"
    assert kind in refused.value.detail


def test_a_public_address_under_the_allowlist_is_allowed() -> None:
    parsed, address = check("https://cloud.soda.io/cb", AllowedUrls(hosts=["*.soda.io"]), resolver_to("52.1.2.3"))
    assert (parsed.host, address) == ("cloud.soda.io", "52.1.2.3")
    for url in ("https://soda.io.evil.com/", "https://evilsoda.io/", "https://cloud.soda.io:8443/"):
        with pytest.raises(Refused):
            check(url, AllowedUrls(hosts=["*.soda.io"]), resolver_to("52.1.2.3"))


def test_generic_sources_have_no_link_back_unless_configured() -> None:
    generic = SourceConfig(kind="generic", token="t" * 20)
    with pytest.raises(Refused) as refused:
        check("https://hooks.example.com/x", ADAPTERS["generic"].link_back(generic), resolver_to("52.1.2.3"))
    assert refused.value.rule == "hosts"
    soda = SourceConfig(kind="soda", token="t" * 20)
    assert ADAPTERS["soda"].link_back(soda).hosts == ["*.soda.io"]


def test_a_name_that_does_not_resolve_is_retried_not_called() -> None:
    with pytest.raises(RetryableError):
        check("https://no-such-host.invalid/x", AllowedUrls(hosts=["no-such-host.invalid"]))
