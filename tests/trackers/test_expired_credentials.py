"""Credentials that stop working fail the execution at once, as `auth`, naming the target and what to check."""

from __future__ import annotations

from tests.conftest import MakeHarness, Trackers, payload


def test_expired_credentials_fail_once_as_auth(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = make_gateway(
        trackers.mappings(), env={"JIRA_API_TOKEN": "expired-tok-0451", "SERVICENOW_PASSWORD": "old-pass-0451"}
    )
    assert gateway.post("qualytics", payload("qualytics.json")).status_code == 202
    gateway.drain()

    failed = {e["target"]: e for e in gateway.executions(status="failed")}
    assert set(failed) == {"jira", "snow"}
    for target, what in (("jira", "Jira refused the credentials"), ("snow", "authentication failed")):
        execution = failed[target]
        assert execution["error_kind"] == "auth"
        assert execution["error"].startswith(f"target {target} refused the gateway's credentials:")
        assert what in execution["error"]
        assert (
            f"check that the user and token (or password) under targets.{target} are still valid" in execution["error"]
        )
        assert "0451" not in execution["error"]
        attempts = gateway.execution(execution["id"])["attempts"]
        assert [a["outcome"] for a in attempts] == ["failed"]  # never retried
    assert gateway.sleeps == []
    assert trackers.jira.state()["issues"] == [] and trackers.snow.incidents() == []
