"""The connector spaces its writes to one issue by `issue_write_interval_ms`; reads and other issues do not wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from connectors import pacing
from connectors.base import AssignRequest, CommentRequest

if TYPE_CHECKING:
    from conftest import Jira


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    waits: list[float] = []
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(pacing, "WRITES", pacing.Spacer(clock=lambda: clock[0], sleep=sleep))
    yield waits


def test_writes_to_one_issue_are_spaced(make_jira: Callable[..., Jira], slept: list[float]) -> None:
    jira = make_jira()
    connector = jira.connector(issue_write_interval_ms=300)
    remote = connector.create(jira.create_request(status="New"))
    other = connector.create(jira.create_request("qualytics:43", status="New"))
    assert slept == []  # two issues: nothing to wait for
    connector.comment(CommentRequest(number="DQ-1", link=remote, text="one"))
    connector.comment(CommentRequest(number="DQ-1", link=remote, text="two"))
    connector.assign(AssignRequest(number="DQ-1", link=remote, assignee="bob"))
    connector.comment(CommentRequest(number="DQ-2", link=other, text="elsewhere"))
    connector.set_status(jira.status_request(remote, "In Progress", note="on it"))
    assert slept == [0.3] * 5  # after the create: 2 comments, assign, transition, note (DQ-2 is free)
    assert len(jira.issues()[0]["comments"]) == 3


def test_zero_turns_spacing_off(make_jira: Callable[..., Jira], slept: list[float]) -> None:
    jira = make_jira()
    connector = jira.connector(issue_write_interval_ms=0)
    remote = connector.create(jira.create_request(status="New"))
    for text in ("one", "two", "three"):
        connector.comment(CommentRequest(number="DQ-1", link=remote, text=text))
    assert slept == []
