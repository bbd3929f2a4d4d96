"""The hot route's body reader: bounded, chunked, and a hang-up is the client's (not a 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.core.errors import ClientGone, PayloadTooLarge
from gateway.web.routes.common import receive_body


def reading(messages: list[dict[str, Any]], limit: int, declared: str | None = None) -> tuple[bytes, int]:
    """The body read from `messages`, and how many of them were taken."""
    taken = 0

    async def receive() -> Any:
        nonlocal taken
        taken += 1
        return messages[taken - 1]

    return asyncio.run(receive_body(receive, limit, declared)), taken


def chunk(body: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


def test_chunks_are_joined_in_order() -> None:
    body, taken = reading([chunk(b'{"a":', True), chunk(b"", True), chunk(b" 1}", False)], limit=100)
    assert body == b'{"a": 1}'
    assert taken == 3


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(PayloadTooLarge, match="the body is 101 bytes; the limit is 100"):
        reading([chunk(b"x", False)], limit=100, declared="101")


def test_a_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    messages = [chunk(b"x" * 60, True), chunk(b"x" * 60, True), chunk(b"never read", False)]
    with pytest.raises(PayloadTooLarge, match="over the limit of 100 bytes"):
        reading(messages, limit=100)


def test_a_client_that_hangs_up_mid_body_is_the_clients_error() -> None:
    with pytest.raises(ClientGone) as raised:
        reading([chunk(b"{", True), {"type": "http.disconnect"}], limit=100)
    assert raised.value.status_code == 400
    assert raised.value.code == "client_gone"
