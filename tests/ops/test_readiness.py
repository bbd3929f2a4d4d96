"""/readyz judges each target's credentials by its latest attempt, which the store keeps as attempts are
written (version 18): a few rows read however long the execution log is. On SQLite and PostgreSQL."""

from __future__ import annotations

from gateway.record.measures import latest_answers
from gateway.record.mirror import Mirror
from tests.conftest import TRACKER_ENV, Harness, MakeHarness, Trackers, qualytics_delivery


def from_attempts(mirror: Mirror) -> dict[str, int | None]:
    """Each target's latest attempt's status, found among every attempt (what /readyz read before 18)."""
    rows = mirror.connection().execute(
        "SELECT e.target, a.http_status FROM attempts a JOIN executions e ON e.id = a.execution_id"
        " ORDER BY a.started_at, a.execution_id"
    )
    return {str(target): status for target, status in rows}  # the later overwrites the earlier


def targets(gateway: Harness) -> dict[str, str]:
    ready = gateway.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    found: dict[str, str] = ready.json()["targets"]
    return found


def test_readyz_follows_a_targets_latest_answer_from_refused_to_accepted_again(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    assert targets(gateway) == {"jira": "ok", "snow": "ok"}  # no attempt yet: nothing refused
    users = dict(trackers.snow.users)
    trackers.snow.users = {}  # the instance stops accepting the gateway's password
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    gateway.drain()
    assert targets(gateway) == {"jira": "ok", "snow": "credentials refused (HTTP 401)"}

    trackers.snow.users = users  # the password is accepted again: the next attempt says so
    assert gateway.post("qualytics", qualytics_delivery(2)).status_code == 202
    gateway.drain()
    assert targets(gateway) == {"jira": "ok", "snow": "ok"}
    assert gateway.client.get("/readyz").json()["status"] == "ok"
    assert latest_answers(gateway.runtime.mirror) == from_attempts(gateway.runtime.mirror)


def test_an_older_attempt_written_after_a_newer_one_does_not_hide_it(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    mirror = gateway.runtime.mirror
    with mirror.transaction() as tx:
        first, second = (
            mirror.create_execution(
                tx,
                event_id=None,
                ticket_id=None,
                flow="f",
                action="notify",
                target="snow",
                params={},
                now=1.0,
                status="failed",
            )
            for _ in range(2)
        )
    # two workers: the later call (refused) is written first, the earlier one (accepted) after it
    mirror.record_attempt(second, started_at=200.0, duration_ms=5, outcome="failed", http_status=401)
    mirror.record_attempt(first, started_at=100.0, duration_ms=5, outcome="succeeded", http_status=201)
    assert latest_answers(mirror) == {"snow": 401}
    assert targets(gateway)["snow"] == "credentials refused (HTTP 401)"


def test_a_database_from_before_the_answers_were_kept_finds_each_targets_latest_when_it_migrates(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), TRACKER_ENV)
    trackers.snow.users = {}
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    gateway.drain()
    mirror = gateway.runtime.mirror
    with mirror.transaction() as tx:  # back to version 17: only the attempts say it
        tx.execute("DROP TABLE target_answers")
        tx.execute("DELETE FROM schema_version WHERE version >= 18")

    again = Mirror(mirror.url)  # a node of this release starts and migrates
    try:
        assert latest_answers(again) == from_attempts(again)
        assert latest_answers(again)["snow"] == 401
    finally:
        again.close()
    assert targets(gateway) == {"jira": "ok", "snow": "credentials refused (HTTP 401)"}
