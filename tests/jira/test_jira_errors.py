"""Failures are classified once: retryable (rate limits, 5xx, timeouts, drops) or permanent."""

from __future__ import annotations

import base64
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from connectors.base import RemoteTicket
from connectors.emulators.base import Fault
from connectors.emulators.jira import default_screen
from gateway.core.outbound import AuthError, ConnectorError, PermanentError, RetryableError

if TYPE_CHECKING:
    from conftest import Jira


def test_rate_limit_is_retryable_with_retry_after(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="status", status=429, retry_after=7))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert (failure.value.http_status, failure.value.retry_after) == (429, 7.0)
    assert "rate limited" in failure.value.message


@pytest.mark.parametrize("reason", ["jira-burst-based", "jira-quota-tenant-based", "jira-per-issue-on-write"])
def test_a_rate_limit_names_jiras_reason_and_keeps_its_wait(jira: Jira, reason: str) -> None:
    jira.emulator.inject(Fault(kind="status", status=429, retry_after=30, headers={"RateLimit-Reason": reason}))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert failure.value.retry_after == 30.0
    assert f"(HTTP 429, RateLimit-Reason: {reason})" in failure.value.message


def test_a_strange_rate_limit_reason_is_cut_to_safe_characters(jira: Jira) -> None:
    odd = "jira-burst-based<script>\x1b[31m" + "x" * 200
    jira.emulator.inject(Fault(kind="status", status=429, headers={"RateLimit-Reason": odd}))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert "RateLimit-Reason: jira-burst-basedscript31mxxx" in failure.value.message
    assert "<" not in failure.value.message and "\x1b" not in failure.value.message
    assert len(failure.value.message) < 300


def test_three_rate_limits_then_success_takes_four_attempts_and_one_issue(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="status", status=429, retry_after=2, count=3))
    connector = jira.connector()
    waits: list[float | None] = []

    attempts = 0
    remote = None
    while remote is None and attempts < 8:  # what the job runner does, without sleeping
        attempts += 1
        try:
            remote = connector.create(jira.create_request())
        except RetryableError as error:
            waits.append(error.retry_after)
    assert remote is not None and attempts == 4
    assert waits == [2.0, 2.0, 2.0]
    assert remote.external_key == "DQ-1"
    assert len(jira.issues()) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(jira: Jira, status: int) -> None:
    jira.emulator.inject(Fault(kind="status", status=status, method="POST", path=r"/issue$"))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert failure.value.http_status == status
    assert jira.issues() == []


def test_a_503_with_retry_after_passes_it_on(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="status", status=503, retry_after=30))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert failure.value.retry_after == 30.0


def test_a_slow_jira_is_a_retryable_timeout(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="slow", delay=1.5, method="GET", path=r"/search$"))

    with pytest.raises(RetryableError) as failure:
        jira.connector(timeout=0.3).create(jira.create_request())

    assert "did not answer in time" in failure.value.message


def test_a_dropped_connection_is_retryable(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="drop", method="POST", path=r"/issue$"))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert "connection" in failure.value.message
    assert jira.issues() == []


def test_an_html_answer_is_retryable(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="html", method="GET", path=r"/search$"))

    with pytest.raises(RetryableError) as failure:
        jira.connector().create(jira.create_request())

    assert "not JSON" in failure.value.message


def test_nothing_listening_is_retryable(jira: Jira) -> None:
    connector = jira.connector(url="http://127.0.0.1:9", deployment="server")

    with pytest.raises(RetryableError):
        connector.create(jira.create_request())


def test_a_field_not_on_the_screen_fails_permanently_naming_it(make_jira: Callable[..., Jira]) -> None:
    screen = default_screen()
    del screen["priority"]
    jira = make_jira(screen=screen)

    with pytest.raises(PermanentError) as failure:
        jira.connector().create(jira.create_request())

    assert failure.value.http_status == 400
    assert (
        "priority: Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
        in failure.value.message
    )
    assert jira.issues() == []


def test_each_rejected_field_is_named(jira: Jira) -> None:
    connector = jira.connector(fields={"urgency": "customfield_10101", "impact": "customfield_19999"})

    with pytest.raises(PermanentError) as failure:
        connector.create(jira.create_request(urgency="Urgent", impact="High"))

    message = failure.value.message
    assert "customfield_10101: Option value 'Urgent' is not valid" in message
    assert "customfield_19999: Field 'customfield_19999' cannot be set" in message


def test_forbidden_is_permanent(jira: Jira) -> None:
    jira.emulator.inject(Fault(kind="status", status=403))

    with pytest.raises(PermanentError) as failure:
        jira.connector().create(jira.create_request())

    assert failure.value.http_status == 403


def _failures(jira: Jira) -> list[ConnectorError]:
    """One failure of each kind, all from a connector holding the secret token."""
    connector = jira.connector(timeout=0.3)
    link = RemoteTicket(external_id="1", external_key="DQ-404")
    faults = [
        Fault(kind="status", status=429, retry_after=1),
        Fault(kind="status", status=500),
        Fault(kind="slow", delay=1.0),
        Fault(kind="drop"),
        Fault(kind="html"),
    ]
    found: list[ConnectorError] = []
    for fault in faults:
        jira.emulator.inject(fault)
        with pytest.raises(ConnectorError) as failure:
            connector.create(jira.create_request())
        found.append(failure.value)
    for call in (
        lambda: connector.set_status(jira.status_request(link, "Resolved")),
        lambda: jira.connector(fields={"urgency": "customfield_1"}).create(jira.create_request()),
        lambda: jira.connector(token="wrong-" + jira.token).create(jira.create_request()),
    ):
        with pytest.raises(ConnectorError) as failure:
            call()
        found.append(failure.value)
    return found


def test_secrets_never_appear_in_errors(jira: Jira) -> None:
    basic = base64.b64encode(f"{jira.user}:{jira.token}".encode()).decode()

    failures = _failures(jira)

    assert {type(f) for f in failures} == {RetryableError, PermanentError, AuthError}
    for failure in failures:
        shown = " ".join([str(failure), repr(failure), *traceback.format_exception(failure)])
        assert jira.token not in shown
        assert basic not in shown
        assert "Authorization" not in shown and "authorization" not in shown
