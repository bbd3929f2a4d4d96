"""Failures, classified once: what a retry can mend is RetryableError, the rest PermanentError."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from connectors.base import CreateRequest, RemoteTicket, StatusRequest
from connectors.emulators.base import Fault
from connectors.emulators.servicenow import ServiceNowEmulator
from connectors.servicenow.connector import ServiceNowConnector, classify
from gateway.core.outbound import ConnectorError, PermanentError, RetryableError

Connect = Callable[..., ServiceNowConnector]
NewRequest = Callable[..., CreateRequest]
SECRET = "s3cret-Pa55word"


def resolve(link: RemoteTicket) -> StatusRequest:
    return StatusRequest(number="DQ-1", correlation_key="qualytics:1001", status="Resolved", link=link)


def test_429_is_retryable_with_retry_after(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    emulator.inject(Fault(kind="status", status=429, retry_after=7))
    with pytest.raises(RetryableError) as caught:
        connector.create(new_request())
    assert (caught.value.http_status, caught.value.retry_after) == (429, 7.0)
    assert "Too many requests" in caught.value.message
    assert connector.create(new_request()).external_key == "INC0010001"


def test_a_hibernating_instance_answering_html_is_retryable(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    emulator.inject(Fault(kind="html"))
    with pytest.raises(RetryableError, match="not the Table API's JSON"):
        connector.create(new_request())
    assert emulator.incidents() == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest, status: int
) -> None:
    emulator.inject(Fault(kind="status", status=status))
    with pytest.raises(RetryableError) as caught:
        connector.create(new_request())
    assert caught.value.http_status == status


def test_a_timeout_is_retryable(
    connect: Connect, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    emulator.inject(Fault(kind="slow", delay=1.0))
    with pytest.raises(RetryableError, match="timed out"):
        connect(timeout=0.2).create(new_request())


def test_a_dropped_connection_is_retryable(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    emulator.inject(Fault(kind="drop"))
    with pytest.raises(RetryableError, match="connection error"):
        connector.create(new_request())


def test_a_rejected_update_is_permanent_with_servicenows_message(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    # the instance's admin made Assigned to mandatory on Resolved; the incident has nobody: the data policy refuses
    emulator.mandatory["6"] = (*emulator.mandatory["6"], "assigned_to")
    link = connector.create(new_request())
    with pytest.raises(PermanentError) as caught:
        connector.set_status(resolve(link))
    assert caught.value.http_status == 403
    assert "Operation Failed" in caught.value.message
    assert "Data Policy Exception" in caught.value.message and "Assigned to" in caught.value.message
    assert emulator.incidents()[0]["state"] == "1"


def test_an_unknown_record_is_permanent(connector: ServiceNowConnector) -> None:
    missing = RemoteTicket(external_id="0" * 32, external_key="INC0099999")
    with pytest.raises(PermanentError, match="No Record found") as caught:
        connector.set_status(resolve(missing))
    assert caught.value.http_status == 404


def test_a_bad_password_is_a_permanent_auth_failure(connect: Connect, new_request: NewRequest) -> None:
    with pytest.raises(PermanentError, match="authentication failed") as caught:
        connect(password=SECRET).create(new_request())
    assert caught.value.http_status == 401
    assert "User Not Authenticated" in caught.value.message


def test_an_unknown_status_is_permanent(connector: ServiceNowConnector, incident: RemoteTicket) -> None:
    request = StatusRequest(number="DQ-1", correlation_key="k", status="Triaged", link=incident)
    with pytest.raises(PermanentError, match="Triaged"):
        connector.set_status(request)


def test_an_empty_correlation_key_is_never_queried(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: NewRequest
) -> None:
    for key in ("", "   "):
        with pytest.raises(PermanentError, match="empty correlation key"):
            connector.create(new_request(key=key))
    assert emulator.log == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="status", status=429, retry_after=1),
        Fault(kind="status", status=500),
        Fault(kind="html"),
        Fault(kind="drop"),
        Fault(kind="slow", delay=0.5),
        Fault(kind="status", status=403),
        Fault(kind="status", status=400),
    ],
    ids=lambda fault: f"{fault.kind}-{fault.status}",
)
def test_the_password_never_appears_in_an_error(
    connect: Connect,
    emulator: ServiceNowEmulator,
    new_request: NewRequest,
    settle: Callable[[int], None],
    fault: Fault,
) -> None:
    emulator.users["sandbox"] = SECRET
    emulator.inject(fault)
    with pytest.raises(ConnectorError) as caught:
        connect(password=SECRET, timeout=0.2).create(new_request())
    error = caught.value
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert SECRET not in text
        assert "Authorization" not in text and "Basic " not in text
    assert error.__cause__ is None and error.__suppress_context__
    if fault.kind == "slow":
        settle(1)


def test_a_rate_limit_without_retry_after_waits_for_the_window_reset() -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers["X-RateLimit-Reset"] = str(int(time.time()) + 30)
    response._content = b'{"error": {"message": "Rate limit exceeded", "detail": null}, "status": "failure"}'
    error = classify("ServiceNow find", requests.HTTPError(response=response))
    assert isinstance(error, RetryableError)
    assert error.retry_after is not None and 25 <= error.retry_after <= 30
    assert "Rate limit exceeded" in error.message
