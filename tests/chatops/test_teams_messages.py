"""Teams outgoing webhooks: the HMAC over the raw body first, then the same commands as Slack."""

from __future__ import annotations

import base64

import msgspec
import pytest

from gateway.receive.security import hmac_b64
from gateway.web.replay import REPLAY_TEXT
from tests.chatops.support import CHAT_SETTINGS, TEAMS_SECRET, slash, teams, teams_activity, ticket_state
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, Harness, MakeHarness, qualytics_delivery
from tests.faults.conftest import database_held


def chat_gateway(make_gateway: MakeHarness, **settings: str) -> Harness:
    gateway = make_gateway(LOCAL_MAPPINGS, **{**CHAT_SETTINGS, **settings})
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    return gateway


def test_a_message_with_a_valid_hmac_moves_the_ticket(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    response = teams(gateway, "DQ-1 on hold waiting for the vendor")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "type": "message",
        "text": "DQ-1 moved from New to On Hold. 1 tracker update(s) queued.",
    }
    gateway.drain()
    ticket = gateway.ticket("DQ-1")
    assert ticket["state"] == "On Hold"
    [moved] = [e for e in ticket["timeline"] if e["kind"] == "status_changed"]
    assert moved["actor"] == "teams:Tim Jones"
    assert moved["data"]["note"] == "waiting for the vendor"
    assert ticket["links"][0]["remote_status"] == "On Hold"


@pytest.mark.parametrize("kind", ["conversationUpdate", "messageReaction", "invoke", "event", "typing"])
def test_an_activity_that_is_not_a_message_is_acknowledged_and_runs_nothing(
    make_gateway: MakeHarness, kind: str
) -> None:
    """Only a message is someone asking: a member added, a reaction or a card's invoke may carry the message's
    text along, and must not move the ticket again."""
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    activity = msgspec.json.decode(teams_activity("DQ-1 resolved"))
    activity["type"] = kind
    body = msgspec.json.encode(activity)
    signature = hmac_b64(base64.b64decode(TEAMS_SECRET), body)
    response = gateway.client.post("/teams/messages", content=body, headers={"authorization": f"HMAC {signature}"})
    assert response.status_code == 200, response.text
    gateway.drain()
    assert ticket_state(gateway) == before
    assert response.json() == {}  # nothing for Teams to post in the channel
    assert teams(gateway, "DQ-1 resolved").json()["text"].startswith("DQ-1 moved from New to Resolved.")


def test_a_bad_or_missing_hmac_is_refused_and_changes_nothing(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    other_key = base64.b64encode(b"another-token").decode()
    wrong_key = teams(gateway, "DQ-1 resolved", secret=other_key)
    garbage = teams(gateway, "DQ-1 resolved", signature="bm90IGEgc2lnbmF0dXJl")
    signed_other_body = hmac_b64(base64.b64decode(TEAMS_SECRET), teams_activity("DQ-1 canceled"))
    replayed = teams(gateway, "DQ-1 resolved", signature=signed_other_body)
    missing = gateway.client.post("/teams/messages", content=teams_activity("DQ-1 resolved"))
    for refused in (wrong_key, garbage, replayed):
        assert refused.status_code == 401
        assert refused.json()["error"] == "bad_signature"
    assert missing.status_code == 401 and missing.json()["error"] == "missing_signature"
    assert ticket_state(gateway) == before


def test_a_captured_message_sent_again_with_its_header_rewritten_is_not_run_again(make_gateway: MakeHarness) -> None:
    """Teams signs no timestamp: the signature is what was seen, however the header around it is written."""
    gateway = chat_gateway(make_gateway)
    body = teams_activity("DQ-1 comment once")
    signature = hmac_b64(base64.b64decode(TEAMS_SECRET), body)
    answers = [
        gateway.client.post("/teams/messages", content=body, headers={"authorization": header}).json()["text"]
        for header in (f"HMAC {signature}", f"hmac {signature}", f"HMAC  {signature}", f"Hmac {signature} ")
    ]
    assert answers[0] == "Comment added to DQ-1. 1 tracker update(s) queued."
    assert answers[1:] == [REPLAY_TEXT] * 3
    assert [e["kind"] for e in gateway.ticket("DQ-1")["timeline"]].count("comment") == 1


def test_without_a_secret_the_endpoint_is_not_configured(make_gateway: MakeHarness) -> None:
    gateway = make_gateway()
    response = teams(gateway, "DQ-1 resolved")
    assert response.status_code == 503
    assert response.json()["error"] == "chatops_not_configured"
    assert "TEAMS_OUTGOING_SECRET" in response.json()["detail"]


def test_command_errors_are_200_replies_teams_can_show(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    before = ticket_state(gateway)
    unknown = teams(gateway, "DQ-7 resolved")
    forbidden = teams(gateway, "DQ-1 closed")
    assert unknown.status_code == forbidden.status_code == 200
    assert unknown.json()["type"] == "message"
    assert unknown.json()["text"].startswith("No ticket 'DQ-7'.")
    assert "cannot move to Closed" in forbidden.json()["text"]
    assert ticket_state(gateway) == before


def test_a_command_while_the_database_is_unavailable_is_told_so_in_both_chats(make_gateway: MakeHarness) -> None:
    """The API answers 503; Teams shows only 200 replies and Slack only its ack: the reason goes in the text."""
    gateway = chat_gateway(make_gateway, db_busy_timeout_seconds=0.2)
    with database_held(gateway):
        answers = [teams(gateway, "DQ-1 resolved"), slash(gateway, "DQ-1 comment later")]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["text"].startswith("The gateway's database is unavailable right now")
    assert gateway.ticket("DQ-1")["state"] == "New"
    assert teams(gateway, "DQ-1 resolved now").json()["text"].startswith("DQ-1 moved from New to Resolved.")


def test_show_uses_teams_markdown(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    text = teams(gateway, "/ticket DQ-1").json()["text"]
    assert text.startswith("**DQ-1: Amount Range Check failed on orders**\nState: New")


def test_a_secret_someone_quoted_is_masked_when_the_ticket_is_shown(make_gateway: MakeHarness) -> None:
    """A Teams reply is seen by the whole channel: a configured secret in a comment or note stays hidden."""
    gateway = chat_gateway(make_gateway)
    teams(gateway, f"DQ-1 comment the qualytics secret is {QUALYTICS_SECRET}, rotate it")
    teams(gateway, f"DQ-1 on hold until {QUALYTICS_SECRET} is rotated")
    for shown in (teams(gateway, "DQ-1").json()["text"], slash(gateway, "DQ-1").json()["text"]):
        assert "comment by teams:Tim Jones: the qualytics secret is" in shown and "On Hold: until" in shown
        assert QUALYTICS_SECRET not in shown


def test_a_secret_that_is_not_base64_is_a_configuration_error(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway, teams_outgoing_secret="not base64!")
    response = teams(gateway, "DQ-1", secret=TEAMS_SECRET)
    assert response.status_code == 503
    assert response.json()["error"] == "chatops_not_configured"


def test_help_in_teams_shows_the_teams_way_to_write_a_command(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    text = teams(gateway, "help").json()["text"]
    assert "`@DQ Gateway DQ-42 <status> [note]`" in text
    assert "/ticket" not in text
    unknown = teams(gateway, "DQ-99").json()["text"]
    assert "`@DQ Gateway help` lists the commands" in unknown


def test_what_a_person_typed_comes_back_as_text_not_markdown(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    lure = "qualytics:[Reset-your-password](https://evil.example)"
    linked = teams(gateway, f"DQ-1 link {lure}").json()["text"]
    assert "linked to DQ-1" in linked and "](https://evil.example)" not in linked
    unlinked = teams(gateway, f"DQ-1 unlink {lure}").json()["text"]
    assert "unlinked from DQ-1" in unlinked and "](https://evil.example)" not in unlinked


def test_someone_mentioned_in_a_comment_stays_in_it(make_gateway: MakeHarness) -> None:
    """Only the gateway's own @mention starts the command; a person mentioned in the text is part of what was said."""
    gateway = chat_gateway(make_gateway)
    answer = teams(gateway, "DQ-1 comment ask <at>Alice Smith</at> to check the loader").json()["text"]
    assert answer == "Comment added to DQ-1. 1 tracker update(s) queued."
    [comment] = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]
    assert comment["data"]["text"] == "ask @Alice Smith to check the loader"


def test_a_word_it_does_not_know_is_quoted_without_its_markup(make_gateway: MakeHarness) -> None:
    gateway = chat_gateway(make_gateway)
    text = teams(gateway, "DQ-1 x`[click](https://evil.example)`").json()["text"]
    assert "is not a status" in text and "](https://evil.example)" not in text and "`x" in text
