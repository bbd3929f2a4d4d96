"""Update Ticket Status and comments: state codes, close code + notes, hold reason, no-ops."""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.base import CommentRequest, CreateRequest, RemoteTicket, StatusRequest
from connectors.emulators.servicenow import ServiceNowEmulator
from connectors.servicenow.connector import ServiceNowConnector

Connect = Callable[..., ServiceNowConnector]

EVENT = {"source": "qualytics", "url": "https://qualytics.example/anomalies/1001"}


def move(link: RemoteTicket, status: str, note: str = "") -> StatusRequest:
    return StatusRequest(
        number="DQ-1", correlation_key="qualytics:1001", status=status, link=link, note=note, event=EVENT
    )


def test_resolved_sends_close_code_and_rendered_notes(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    moved = connector.set_status(move(incident, "Resolved", note="fixed upstream"))
    [record] = emulator.incidents()
    assert record["state"] == "6" and moved.remote_status == "6"
    assert record["close_code"] == "Solution provided"
    assert record["close_notes"] == "Resolved in qualytics: https://qualytics.example/anomalies/1001 (DQ-1)"
    assert [entry["value"] for entry in record["journal"]] == ["fixed upstream"]


def test_canceled_reaches_state_8_with_its_own_close_code(
    connect: Connect, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    connector = connect(close_codes={"Canceled": "Duplicate"})
    link = connector.create(new_request())
    connector.set_status(move(link, "Canceled"))
    [record] = emulator.incidents()
    assert (record["state"], record["close_code"], record["active"]) == ("8", "Duplicate", "false")


def test_canceled_without_a_close_code_entry_sends_none(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    connector.set_status(move(incident, "Canceled"))
    [record] = emulator.incidents()
    assert (record["state"], record["close_code"]) == ("8", "")


def test_on_hold_sends_the_hold_reason(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    connector.set_status(move(incident, "On Hold"))
    [record] = emulator.incidents()
    assert (record["state"], record["hold_reason"]) == ("3", "1")


def test_states_override_the_codes(
    connect: Connect, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    connector = connect(states={"In Progress": 10})
    link = connector.create(new_request())
    connector.set_status(move(link, "In Progress"))
    assert emulator.incidents()[0]["state"] == "10"


def test_already_there_is_a_no_op(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    result = connector.set_status(move(incident, "New"))
    assert result.remote_status == "1"
    assert not [entry for entry in emulator.log if entry.method in ("PATCH", "PUT")]


def test_comments_go_to_work_notes(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    connector.comment(CommentRequest(number="DQ-1", link=incident, text="Looking at it"))
    [record] = emulator.incidents()
    assert record["journal"][0]["element"] == "work_notes"
    assert record["journal"][0]["value"] == "Looking at it"


def test_a_code_tag_in_payload_text_stays_text_in_a_work_note(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    text = "seen again: [code]<img src=x onerror=alert(1)>[/CODE] in orders"
    connector.comment(CommentRequest(number="DQ-1", link=incident, text=text))
    connector.comment(CommentRequest(number="DQ-1", link=incident, text=text))  # a retry: the same note, once
    [note] = [entry["value"] for entry in emulator.incidents()[0]["journal"]]
    assert "[code]" not in note.lower() and "[/code]" not in note.lower()
    assert note.replace("\u200b", "") == text  # what people read is unchanged


def test_only_a_retry_looks_for_its_note_and_only_among_those_since_the_execution_began(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    for _ in range(2):  # first tries: a note said twice is written twice, and the journal is not read
        connector.comment(CommentRequest(number="DQ-1", link=incident, text="still failing", first_try=True))
    assert not [entry for entry in emulator.log if "sys_journal_field" in entry.path]

    later = time.time() + 3600  # the notes there are older than this execution: not its own
    connector.comment(CommentRequest(number="DQ-1", link=incident, text="still failing", since=later))
    connector.comment(CommentRequest(number="DQ-1", link=incident, text="still failing", since=time.time() - 60))

    assert [entry["value"] for entry in emulator.incidents()[0]["journal"]] == ["still failing"] * 3
    assert len([entry for entry in emulator.log if "sys_journal_field" in entry.path]) == 2


def test_closing_passes_the_instances_data_policy(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    """The emulator refuses state 6/7 without close code and notes (403); the connector always sends them."""
    for status, state in (("Resolved", "6"), ("Closed", "7")):
        connector.set_status(move(incident, status, note=f"{status.lower()} by the gateway"))
        [record] = emulator.incidents()
        assert record["state"] == state and record["close_code"] == "Solution provided" and record["close_notes"]
    assert all(entry.status < 400 for entry in emulator.log)
    notes = [entry["value"] for entry in emulator.incidents()[0]["journal"]]
    assert notes == ["resolved by the gateway", "closed by the gateway"]


def test_the_note_goes_in_its_own_request_after_the_fields(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, incident: RemoteTicket
) -> None:
    connector.set_status(move(incident, "Resolved", note="fixed upstream"))
    bodies = [entry.body for entry in emulator.log if entry.method == "PATCH"]
    assert [sorted(body) for body in bodies] == [["close_code", "close_notes", "state"], ["work_notes"]]


def test_a_poll_over_many_open_incidents_asks_in_bounded_requests_and_misses_none(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    links = [connector.create(new_request(key=f"qualytics:{n}", number=f"DQ-{n}")) for n in range(230)]
    since = max(str(i["sys_updated_on"]) for i in emulator.incidents())
    moved = [links[5], links[150], links[229]]
    for link in moved:
        emulator.act({"incident": link.external_key, "as": "jane.doe", "state": "2", "work_notes": "on it"})
    emulator.log.clear()

    inbounds, cursor = connector.poll(links, since)

    polls = [entry for entry in emulator.log if entry.method == "GET"]
    assert len(polls) == 2  # with a cursor: what changed since (records, journal), however many are open
    assert all(len(entry.query["sysparm_query"][0]) < 4000 for entry in polls)
    changed = {change.external_id for change in inbounds[0].changes}
    assert changed == {link.external_id for link in moved}  # the 227 untouched since made: not in the answer
    notes = [i.changes[0] for i in inbounds[1:]]
    assert sorted(n.external_id for n in notes) == sorted(link.external_id for link in moved)
    assert cursor >= since

    emulator.log.clear()
    connector.poll(links, "")  # the first poll, without a cursor, asks for the linked ones
    first = [entry for entry in emulator.log if entry.method == "GET"]
    assert len(first) == 6  # 230 ids: three requests for the records, three for their journal
    assert all(len(entry.query["sysparm_query"][0]) < 4000 for entry in first)


def test_a_poll_before_anything_is_linked_starts_the_cursor_so_the_next_one_asks_what_changed(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    """Else the first poll after the first tickets asks for every one of them by id, 100 a request."""
    nothing, cursor = connector.poll([], "")
    assert nothing == [] and cursor
    assert [entry for entry in emulator.log if entry.method == "GET"] == []
    links = [connector.create(new_request(key=f"qualytics:{n}", number=f"DQ-{n}")) for n in range(150)]
    emulator.act({"incident": links[42].external_key, "as": "jane.doe", "state": "2"})
    emulator.log.clear()

    inbounds, _ = connector.poll(links, cursor)

    assert len([entry for entry in emulator.log if entry.method == "GET"]) == 2
    assert [change.external_id for change in inbounds[0].changes] == [links[42].external_id]


def test_a_first_poll_that_finds_nothing_changed_since_made_still_starts_the_cursor(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    """Sync turned on for tickets that exist: the first poll asks by id; with a cursor after it, the next asks
    what changed since (else every poll asked by id, 100 a request)."""
    links = [connector.create(new_request(key=f"qualytics:{n}", number=f"DQ-{n}")) for n in range(3)]

    inbounds, cursor = connector.poll(links, "")

    assert inbounds[0].changes == [] and cursor
    emulator.act({"incident": links[1].external_key, "as": "jane.doe", "state": "2"})
    emulator.log.clear()
    inbounds, _ = connector.poll(links, cursor)
    assert [change.external_id for change in inbounds[0].changes] == [links[1].external_id]
    assert all("sys_idIN" not in entry.query["sysparm_query"][0] for entry in emulator.log if entry.method == "GET")


def _ours_and_another_tools(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> tuple[RemoteTicket, RemoteTicket, str]:
    """An incident of the gateway's, one with another integration's correlation id, and a cursor after both."""
    ours = connector.create(new_request(key="qualytics:1", number="DQ-1"))
    theirs = connector.create(new_request(key="other-tool:7", number="DQ-7"))
    return ours, theirs, max(str(i["sys_updated_on"]) for i in emulator.incidents())


def test_a_poll_keeps_to_the_linked_incidents(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    """Another integration's incident (a correlation id of its own) changed since the cursor is not the gateway's."""
    ours, theirs, since = _ours_and_another_tools(connector, emulator, new_request)
    for link in (ours, theirs):
        emulator.act({"incident": link.external_key, "as": "jane.doe", "state": "2", "work_notes": "on it"})

    inbounds, _ = connector.poll([ours], since)

    assert {change.external_id for change in inbounds[0].changes} == {ours.external_id}
    assert [i.changes[0].external_id for i in inbounds[1:]] == [ours.external_id]


def test_a_poll_moves_its_cursor_past_what_it_read_of_other_integrations(
    connector: ServiceNowConnector, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    """Else another tool's changes are read again every poll until one of the gateway's own changes."""
    ours, theirs, since = _ours_and_another_tools(connector, emulator, new_request)
    emulator.act({"incident": ours.external_key, "as": "jane.doe", "state": "2"})
    time.sleep(3.1)  # past the step back a cursor takes (the poll's length and a second)
    emulator.act({"incident": theirs.external_key, "as": "jane.doe", "state": "2"})
    ours_at = next(i["sys_updated_on"] for i in emulator.incidents() if i["number"] == ours.external_key)

    inbounds, cursor = connector.poll([ours], since)

    assert {change.external_id for change in inbounds[0].changes} == {ours.external_id}
    assert cursor > ours_at


def test_close_notes_that_render_empty_fall_back_to_the_gateways_text_and_the_incident_resolves(
    connect: Connect, emulator: ServiceNowEmulator, new_request: Callable[..., CreateRequest]
) -> None:
    """A template on a field the event lacks (a move from chat or the API has no anomaly URL) renders nothing:
    the instance's data policy would refuse the resolve. The gateway's own text names it and the resolution."""
    connector = connect(close_notes="{{ event.anomaly_url }}")
    link = connector.create(new_request())
    moved = connector.set_status(move(link, "Resolved", note="fixed upstream"))
    [record] = emulator.incidents()
    assert record["state"] == "6" and moved.remote_status == "6"
    assert record["close_code"] == "Solution provided"
    assert record["close_notes"] == (
        "DQ-1 Resolved by the data-quality gateway (Solution provided). Note: fixed upstream"
    )
    assert moved.notes == ["close_notes rendered empty: the gateway's default resolution notes were sent"]
    created = connector.create(new_request(key="qualytics:2", number="DQ-2", status="Resolved"))  # the insert too
    assert created.remote_status == "6" and created.notes == moved.notes
    assert emulator.incidents()[1]["close_notes"] == "DQ-2 Resolved by the data-quality gateway (Solution provided)."
    assert all(entry.status < 400 for entry in emulator.log)
