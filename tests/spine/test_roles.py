"""Who may move a ticket: lifecycle transitions as a list of {from, to, role}."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.rules.loader import MappingErrors, load_mappings
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness
from tests.conftest import qualytics_delivery as delivery

LIFECYCLE = """
lifecycle:
  transitions:
    - {from: New, to: In Progress, role: assignee}
    - {from: In Progress, to: Resolved, role: requester}
    - {from: In Progress, to: On Hold}
    - {from: On Hold, to: In Progress, role: any}
    - {from: Resolved, to: Closed, role: requester}
    - {from: Resolved, to: In Progress}
"""


def role_gateway(make_gateway: MakeHarness, assigned_to: str = "alice", **settings: Any) -> Harness:
    flows = LOCAL_MAPPINGS["flows.yaml"].replace('assigned_to: ""', f'assigned_to: "{assigned_to}"')
    gateway = make_gateway({**LOCAL_MAPPINGS, "flows.yaml": flows, "lifecycle.yaml": LIFECYCLE}, **settings)
    gateway.post("qualytics", delivery(1))
    return gateway


def move(gateway: Harness, status: str, actor: str | None = None) -> Any:
    headers = {"x-gateway-actor": actor} if actor else {}
    return gateway.client.post("/v1/tickets/DQ-1/status", json={"status": status}, headers=headers)


def test_only_the_assignee_takes_it_into_progress(make_gateway: MakeHarness) -> None:
    gateway = role_gateway(make_gateway)
    refused = move(gateway, "In Progress", actor="bob")
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden_transition" and "assignee" in refused.json()["detail"]
    assert move(gateway, "In Progress").status_code == 403  # the API token alone is nobody's assignee
    assert gateway.ticket("DQ-1")["state"] == "New"
    assert move(gateway, "In Progress", actor="alice").status_code == 202
    change = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "status_changed"][-1]
    assert change["actor"] == "alice"


def test_only_the_requester_closes_and_anomaly_moves_act_as_the_requester(make_gateway: MakeHarness) -> None:
    gateway = role_gateway(make_gateway)
    assert move(gateway, "In Progress", actor="alice").status_code == 202
    gateway.post("qualytics", delivery(1, trigger="Anomaly Status Change", status="Resolved"))
    assert gateway.ticket("DQ-1")["state"] == "Resolved"  # the source is the requester
    refused = move(gateway, "Closed", actor="alice")
    assert refused.status_code == 403 and "requester" in refused.json()["detail"]
    assert move(gateway, "Closed", actor="qualytics").status_code == 202


def test_role_any_and_the_map_form_let_anyone_move(make_gateway: MakeHarness) -> None:
    gateway = role_gateway(make_gateway)
    assert move(gateway, "In Progress", actor="alice").status_code == 202
    assert move(gateway, "On Hold", actor="bob").status_code == 202
    assert move(gateway, "In Progress", actor="carol").status_code == 202
    undeclared = move(gateway, "Canceled", actor="alice")
    assert undeclared.status_code == 409 and undeclared.json()["error"] == "forbidden_transition"
    plain = make_gateway(name="plain")
    plain.post("qualytics", delivery(1))
    assert move(plain, "In Progress", actor="anyone").status_code == 202


def test_chat_refuses_a_move_without_the_role_and_lets_the_taker_take_it(make_gateway: MakeHarness) -> None:
    from tests.chatops.support import CHAT_SETTINGS, slash

    chatops = {"chatops.yaml": "chatops:\n  slack_users: {U2147483697: alice}\n"}
    taken = role_gateway(make_gateway, assigned_to="", **CHAT_SETTINGS)
    taken.reload(chatops)
    assert slash(taken, "DQ-1 in progress").json()["text"].startswith("DQ-1 moved from New to In Progress")
    theirs = role_gateway(make_gateway, assigned_to="bob", name="theirs", **CHAT_SETTINGS)
    theirs.reload(chatops)
    # another wording: the same signed body inside Slack's window would be answered as a replay (shared Redis)
    answer = slash(theirs, "DQ-1 In Progress").json()["text"]
    assert answer.startswith("Nothing changed: only the assignee may move a ticket from New to In Progress")
    assert theirs.ticket("DQ-1")["state"] == "New"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{from: New, to: Done}", "'Done' is not a state"),
        ("{from: New, to: Resolved, role: boss}", "field transitions[0].role"),
        ("{from: New, to: Resolved, who: x}", "field transitions[0].who"),
    ],
)
def test_bad_rules_fail_at_load(tmp_path: Any, rule: str, problem: str) -> None:
    for name, text in LOCAL_MAPPINGS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "lifecycle.yaml").write_text(f"lifecycle:\n  transitions:\n    - {rule}\n")
    with pytest.raises(MappingErrors) as raised:
        load_mappings(tmp_path, {"QUALYTICS_SECRET": "x"})
    assert "lifecycle.yaml: lifecycle" in str(raised.value) and problem in str(raised.value)


def test_in_teams_the_assignee_and_requester_are_known_by_their_id_not_their_display_name(
    make_gateway: MakeHarness,
) -> None:
    """Two Teams users may show the same name: only the one who took (or opened) the ticket holds its role."""
    import base64

    import msgspec

    from gateway.receive.security import hmac_b64
    from tests.chatops.support import CHAT_SETTINGS, TEAMS_SECRET, teams_activity

    tim, namesake = "f46a8a6e-5e73-4d2a-9d3c-0f4b8f5f6b11", "0b1c2d3e-0000-4000-8000-00000000beef"
    lifecycle = """
lifecycle:
  transitions:
    - {from: New, to: In Progress, role: assignee}
    - {from: In Progress, to: Resolved, role: assignee}
    - {from: In Progress, to: On Hold, role: requester}
"""
    chatops = f"chatops:\n  users:\n    {tim}: {{mirror: tim.jones}}\n"
    catalog = "catalog:\n  report: {targets: [mirror], open: [title], fields: {short_description: '{{ form.title }}'}}"
    gateway = role_gateway(make_gateway, assigned_to="", **CHAT_SETTINGS)
    gateway.reload({"chatops.yaml": chatops, "lifecycle.yaml": lifecycle, "catalog.yaml": catalog})

    def say(text: str, aad_id: str) -> str:
        activity = msgspec.json.decode(teams_activity(text))  # both show as "Tim Jones"
        activity["from"]["aadObjectId"] = aad_id
        body = msgspec.json.encode(activity)
        signed = hmac_b64(base64.b64decode(TEAMS_SECRET), body)
        headers = {"content-type": "application/json", "authorization": f"HMAC {signed}"}
        answer: str = gateway.client.post("/teams/messages", content=body, headers=headers).json()["text"]
        return answer

    assert say("DQ-1 in progress", tim).startswith("DQ-1 moved from New to In Progress and assigned to teams:Tim")
    refused = say("DQ-1 resolved", namesake)
    assert refused.startswith("Nothing changed: only the assignee may move a ticket from In Progress to Resolved")
    assert gateway.ticket("DQ-1")["state"] == "In Progress"
    assert say("DQ-1 resolved", tim).startswith("DQ-1 moved from In Progress to Resolved")

    assert say("open report the export is stuck", tim).startswith("Opened DQ-2 from report")
    assert say("DQ-2 in progress", tim).startswith("DQ-2 moved from New to In Progress")
    refused = say("DQ-2 on hold", namesake)
    assert refused.startswith("Nothing changed: only the requester may move a ticket from In Progress to On Hold")
    assert say("DQ-2 on hold", tim).startswith("DQ-2 moved from In Progress to On Hold")
