"""Slack slash commands: signed with slack_sdk's own code, verified by Bolt, run through the API's path."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

import respx

from gateway.web.replay import REPLAY_TEXT
from tests.chatops.support import (
    CHANNEL_ENV,
    CHANNELS,
    CHAT_SETTINGS,
    RESPONSE_URL,
    SLACK_WEBHOOK,
    Trackers,
    followups,
    slack_form,
    slash,
    taken_from_slack,
    ticket_state,
    tracker_gateway,
)
from tests.conftest import LOCAL_MAPPINGS, Harness, MakeHarness, qualytics_delivery

FORM = "application/x-www-form-urlencoded"


def chat_gateway(make_gateway: MakeHarness, **files: str) -> Harness:
    """The spine's mirror-only gateway with chat-ops on and one ticket, DQ-1, in New."""
    from tests.conftest import LOCAL_MAPPINGS

    gateway = make_gateway({**LOCAL_MAPPINGS, **files}, **CHAT_SETTINGS)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    return gateway


def test_a_signed_slash_command_moves_the_ticket_and_jira_and_servicenow_follow(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, emulators)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    assert [i["status"] for i in emulators.issues()] == ["To Do"]

    with respx.mock() as slack:
        answer_url = slack.post(RESPONSE_URL).respond(200, text="ok")
        response = slash(gateway, "DQ-1 in progress looking at the loader")
        assert response.status_code == 200, response.text
        ack = response.json()
        assert ack["response_type"] == "ephemeral"
        assert ack["text"].startswith("DQ-1 moved from New to In Progress. 2 tracker update(s) queued.")
        gateway.drain()
        followups(gateway)

    [issue] = emulators.issues()
    [incident] = emulators.incidents()
    assert issue["status"] == "In Progress"
    assert incident["state"] == "2"
    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "In Progress"
    [moved] = [e for e in ticket["timeline"] if e["kind"] == "status_changed"]
    assert moved["actor"] == "slack:steve"
    assert moved["data"] == {"from": "New", "to": "In Progress", "note": "looking at the loader"}

    assert answer_url.call_count == 1
    outcome = json.loads(answer_url.calls.last.request.content)
    assert outcome["response_type"] == "ephemeral" and outcome["replace_original"] is False
    assert "State: In Progress" in outcome["text"]
    assert f"Jira {issue['key']} (In Progress)" in outcome["text"]
    assert f"ServiceNow {incident['number']} (In Progress)" in outcome["text"]  # the state's name, not "(2)"
    assert "Every linked tracker followed." in outcome["text"]
    # the note reaches both trackers with who wrote it
    assert issue["comments"] == ["slack:steve: looking at the loader"]
    assert "slack:steve: looking at the loader" in [entry["value"] for entry in incident["journal"]]


def test_resolving_from_slack_closes_the_incident_with_its_close_code(
    make_gateway: MakeHarness, emulators: Trackers
) -> None:
    gateway = tracker_gateway(make_gateway, emulators)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200, text="ok")
        assert slash(gateway, "dq-1 Resolved fixed upstream").status_code == 200
        gateway.drain()
        followups(gateway)
    [issue] = emulators.issues()
    [incident] = emulators.incidents()
    assert issue["status"] == "Done"
    assert incident["state"] == "6" and incident["close_code"] == "Solution provided"


def test_the_outcome_names_a_tracker_that_did_not_follow(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = tracker_gateway(make_gateway, emulators)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    emulators.snow.users = {}  # the instance stops accepting the gateway's credentials
    with respx.mock() as slack:
        answer_url = slack.post(RESPONSE_URL).respond(200, text="ok")
        slash(gateway, "DQ-1 on hold")
        gateway.drain()
        followups(gateway)
    text = json.loads(answer_url.calls.last.request.content)["text"]
    assert "update_ticket_status → snow failed:" in text
    assert "Every linked tracker followed." not in text


def test_forged_and_stale_signatures_are_refused_and_change_nothing(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    with respx.mock():  # nothing may be posted anywhere
        forged = slash(gateway, "DQ-1 resolved", secret="not-the-signing-secret")
        stale = slash(gateway, "DQ-1 resolved", age=6 * 60)
        tampered_body = slack_form("DQ-1 resolved")
        response = gateway.client.post(
            "/slack/commands",
            content=tampered_body.replace("resolved", "canceled").encode(),
            headers=dict(slash_headers(gateway, tampered_body)),
        )
        unsigned = gateway.client.post("/slack/commands", content=slack_form("DQ-1 resolved").encode())
    for refused in (forged, stale, response, unsigned):
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "bad_signature"
        assert "detail" in refused.json()
    assert ticket_state(gateway) == before


def test_a_request_that_is_not_signed_is_refused_whatever_its_body(make_gateway: MakeHarness) -> None:
    """The signature comes first: a forged button click or a body that is not a command is 401, not a hint."""
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    bodies = {
        "interactive": urlencode({"payload": json.dumps({"type": "block_actions", "actions": [{"value": "DQ-1"}]})}),
        "payload not json": "payload=%7Bnot+json",
        "not a form": "\x00\xff",
        "empty": "",
    }
    for name, body in bodies.items():
        for refused in (
            slash(gateway, "", body=body, secret="not-the-signing-secret"),
            slash(gateway, "", body=body, age=6 * 60),
            gateway.client.post("/slack/commands", content=body.encode(), headers={"content-type": FORM}),
        ):
            assert refused.status_code == 401, (name, refused.text)
            assert refused.json()["error"] == "bad_signature"
    signed = slash(gateway, "", body=bodies["payload not json"])  # from Slack, but not a slash command
    assert signed.status_code == 422 and signed.json()["error"] == "unsupported_slack_request"
    assert ticket_state(gateway) == before


def test_slack_retrying_a_command_signed_anew_does_not_run_it_again(make_gateway: MakeHarness) -> None:
    """A retry (X-Slack-Retry-Num) carries the invocation's trigger_id under a new timestamp and signature."""
    gateway = chat_gateway(make_gateway)
    body = slack_form("DQ-1 comment once")
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        first = slash(gateway, "", body=body, age=3)
        retried = gateway.client.post(
            "/slack/commands",
            content=body.encode(),
            headers={**slash_headers(gateway, body), "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
        )
        typed_again = slash(gateway, "DQ-1 comment once")  # the person sends it again: a new invocation
        gateway.drain()
        followups(gateway)
    assert first.json()["text"].startswith("Comment added to DQ-1.")
    assert retried.status_code == 200 and retried.json() == {"response_type": "ephemeral", "text": REPLAY_TEXT}
    assert typed_again.json()["text"].startswith("Comment added to DQ-1.")
    assert [e["kind"] for e in gateway.ticket("DQ-1")["timeline"]].count("comment") == 2


def slash_headers(gateway: Harness, body: str) -> dict[str, str]:
    """The headers a valid signature of `body` comes with (for tampering with the body afterwards)."""
    import time

    from slack_sdk.signature import SignatureVerifier

    from tests.chatops.support import SIGNING_SECRET

    timestamp = str(int(time.time()))
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body),
    }


def test_refused_commands_answer_helpful_ephemeral_text_and_change_nothing(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    answers = {
        text: slash(gateway, text).json()
        for text in ("DQ-99 resolved", "DQ-1 closed", "DQ-1 fixed-it-myself", "DQ-1 new", "DQ-1 comment")
    }
    assert all(a["response_type"] == "ephemeral" for a in answers.values())
    assert answers["DQ-99 resolved"]["text"].startswith("No ticket 'DQ-99'. Ticket numbers look like DQ-42")
    assert answers["DQ-1 closed"]["text"] == (
        "Nothing changed: a ticket in New cannot move to Closed; allowed: In Progress, On Hold, Resolved, Canceled."
    )
    assert answers["DQ-1 fixed-it-myself"]["text"].startswith("`fixed-it-myself` is not a status or `comment`.")
    assert "`/ticket DQ-42 <status> [note]`" in answers["DQ-1 fixed-it-myself"]["text"]
    assert answers["DQ-1 new"]["text"] == "Nothing changed: DQ-1 is already New."
    assert answers["DQ-1 comment"]["text"].startswith("A comment needs text: `/ticket DQ-1 comment <text>`.")
    assert ticket_state(gateway) == before


def test_show_and_help(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    shown = slash(gateway, "DQ-1").json()["text"]
    assert shown.startswith("*DQ-1: Amount Range Check failed on orders*\nState: New\nPriority: Medium")
    assert "Latest:\n• " in shown and "opened by gateway" in shown and "linked by gateway: linked mirror" in shown
    helped = slash(gateway, "help").json()["text"]
    assert "`/ticket DQ-42 comment <text>`" in helped
    assert slash(gateway, "").json()["text"] == helped
    assert slash(gateway, "DQ-1 help").json()["text"] == helped  # not "`help` is not a status"
    assert "`/ticket DQ-42 link <source>:<anomaly id>`" in helped


def test_a_comment_from_slack_is_on_the_timeline_with_its_author(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        answer = slash(gateway, "DQ-1 comment  the <loader> & its retries").json()["text"]
        gateway.drain()
        followups(gateway)
    assert answer.startswith("Comment added to DQ-1. 1 tracker update(s) queued.")
    [comment] = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]
    assert comment["actor"] == "slack:steve"
    assert comment["data"] == {"text": "the <loader> & its retries"}


def test_the_reply_counts_tracker_updates_not_the_notifications_a_change_sends(make_gateway: MakeHarness) -> None:
    """A ticket-event flow tells a channel of the move and the comment; the person hears of their one tracker."""
    flows = """
flows:
  - {name: tell-moves, trigger: {type: ticket_status_changed}, actions: [{notify: {channels: [dq-slack]}}]}
  - {name: tell-comments, trigger: {type: ticket_comment_added}, actions: [{notify: {channels: [dq-slack]}}]}
"""
    gateway = make_gateway(
        {**LOCAL_MAPPINGS, "channels.yaml": CHANNELS, "events.yaml": flows}, env=CHANNEL_ENV, **CHAT_SETTINGS
    )
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        channel = slack.post(SLACK_WEBHOOK).respond(200, text="ok")
        moved = slash(gateway, "DQ-1 in progress").json()["text"]
        commented = slash(gateway, "DQ-1 comment on it").json()["text"]
        gateway.drain()
        followups(gateway)
    assert moved.startswith("DQ-1 moved from New to In Progress. 1 tracker update(s) queued.")
    assert commented.startswith("Comment added to DQ-1. 1 tracker update(s) queued.")
    assert channel.call_count == 2  # the notifications still went


def test_taking_a_ticket_assigns_the_mapped_tracker_user(make_gateway: MakeHarness) -> None:
    chatops = "chatops:\n  slack_users: {U2147483697: alice.smith}\n  response_wait: 5\n"
    gateway = chat_gateway(make_gateway, **{"chatops.yaml": chatops})
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        answer = slash(gateway, "DQ-1 in_progress").json()["text"]
        gateway.drain()
        followups(gateway)
    assert answer.startswith("DQ-1 moved from New to In Progress and assigned to alice.smith.")
    ticket = gateway.ticket("DQ-1")
    assert ticket["fields"]["assigned_to"] == "alice.smith"
    [change] = [e for e in ticket["timeline"] if e["kind"] == "field_changed"]
    assert change["actor"] == "slack:steve"
    assert change["data"] == {"field": "assigned_to", "from": "", "to": "alice.smith", "chat_id": "U2147483697"}


def test_taking_a_ticket_moves_and_assigns_it_in_one_transaction(make_gateway: MakeHarness) -> None:
    """The database refusing the assignment leaves the ticket as it was, not moved but nobody's."""
    chatops = "chatops:\n  slack_users: {U2147483697: alice.smith}\n  response_wait: 5\n"
    gateway = chat_gateway(make_gateway, **{"chatops.yaml": chatops})
    with gateway.runtime.mirror.transaction() as tx:
        if gateway.runtime.mirror.postgres:
            tx.execute(
                "CREATE FUNCTION refuse_assignment() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
            )
            tx.execute(
                "CREATE TRIGGER refuse_assignment BEFORE INSERT ON timeline FOR EACH ROW"
                " WHEN (NEW.kind = 'field_changed') EXECUTE FUNCTION refuse_assignment()"
            )
        else:
            tx.execute(
                "CREATE TRIGGER refuse_assignment BEFORE INSERT ON timeline WHEN NEW.kind = 'field_changed'"
                " BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
            )
    answer = slash(gateway, "DQ-1 in progress").json()["text"]
    assert answer == "The gateway failed unexpectedly running this command; its log says why."
    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "New" and not ticket["fields"]["assigned_to"]
    assert [e["kind"] for e in ticket["timeline"] if e["kind"] in ("status_changed", "field_changed")] == []


def test_taking_a_ticket_assigns_it_in_jira_and_servicenow(make_gateway: MakeHarness, emulators: Trackers) -> None:
    chatops = "chatops:\n  slack_users: {U2147483697: alice}\n  response_wait: 5\n"
    gateway, answer = taken_from_slack(make_gateway, emulators, chatops)
    assert answer.startswith("DQ-1 moved from New to In Progress and assigned to alice. 4 tracker update(s) queued.")
    [issue] = emulators.issues()
    [incident] = emulators.incidents()
    assert issue["fields"]["assignee"] == {"name": "alice"}
    assert incident["assigned_to"] == "alice"
    assigns = gateway.executions(action="assign")
    assert sorted((e["target"], e["status"]) for e in assigns) == [("jira", "succeeded"), ("snow", "succeeded")]


def test_someone_not_in_the_map_moves_without_taking(make_gateway: MakeHarness) -> None:
    chatops = "chatops:\n  slack_users: {U0OTHER: bob}\n"
    gateway = chat_gateway(make_gateway, **{"chatops.yaml": chatops})
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        slash(gateway, "DQ-1 in progress")
        gateway.drain()
        followups(gateway)
    assert gateway.ticket("DQ-1")["fields"]["assigned_to"] == ""


def test_a_response_url_outside_slack_is_never_called(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    with respx.mock() as anywhere:
        answer = slash(gateway, "DQ-1 resolved", response_url="https://attacker.example/collect")
        gateway.drain()
        followups(gateway)
    assert answer.status_code == 200
    assert anywhere.calls.call_count == 0
    assert gateway.ticket("DQ-1")["state"] == "Resolved"


def test_without_a_signing_secret_the_endpoint_is_not_configured(make_gateway: MakeHarness) -> None:
    gateway = make_gateway()
    response = slash(gateway, "DQ-1 resolved")
    assert response.status_code == 503
    assert response.json()["error"] == "chatops_not_configured"
    assert "SLACK_SIGNING_SECRET" in response.json()["detail"]


def test_the_form_reaches_bolt_as_slack_sent_it(make_gateway: MakeHarness) -> None:
    """Slack escapes &, < and > in the text; the command sees them as typed."""
    gateway = chat_gateway(make_gateway)
    body = slack_form("DQ-1 comment a &lt;b&gt; &amp; c")
    assert parse_qs(body)["text"] == ["DQ-1 comment a &lt;b&gt; &amp; c"]
    with respx.mock() as slack:
        slack.post(RESPONSE_URL).respond(200)
        slash(gateway, "", body=body)
        gateway.drain()
        followups(gateway)
    [comment] = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]
    assert comment["data"]["text"] == "a <b> & c"


def test_an_outcome_still_waiting_when_the_gateway_stops_is_not_posted(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    with respx.mock(assert_all_called=False) as slack:
        answer_url = slack.post(RESPONSE_URL).respond(200)
        assert slash(gateway, "DQ-1 in progress").status_code == 200  # its move is queued; no worker runs it
        waiting = gateway.client.app.state.slack_followups
        gateway.client.__exit__(None, None, None)  # the gateway shuts down while the outcome waits
        waiting.join(timeout=30)
        assert not any(thread.is_alive() for thread in waiting.threads)
    assert answer_url.call_count == 0  # nothing reaches Slack from a gateway that has stopped
