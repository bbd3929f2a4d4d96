"""Several anomalies on one ticket: group_by, resolve_when, the coalesced comment, manual link/unlink,
and 40 anomalies of one group delivered at once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from gateway.core.settings import Settings
from gateway.decide.ingest import accept
from gateway.record.runtime import Runtime
from gateway.rules.loader import MappingErrors, load_mappings
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, TRACKER_ENV, Harness, MakeHarness, Trackers
from tests.conftest import qualytics_delivery as delivery

GROUP = '          group_by: "{{ event.datastore }}/{{ event.container }}"\n'


def grouped(files: dict[str, str], resolve_when: str = "") -> dict[str, str]:
    extra = GROUP + (f"          resolve_when: {resolve_when}\n" if resolve_when else "")
    flows = files["flows.yaml"].replace("          targets: [", extra + "          targets: [", 1)
    return {**files, "flows.yaml": flows}


def status(gateway: Harness, anomaly_id: int, new: str) -> Any:
    return gateway.post("qualytics", delivery(anomaly_id, trigger="Anomaly Status Change", status=new))


def anomaly_ids(ticket: dict[str, Any]) -> list[str]:
    return [a["anomaly_id"] for a in ticket["anomalies"]]


def test_anomalies_of_one_group_join_its_ticket_and_trackers_get_one_comment_listing_them(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(grouped(trackers.mappings()), env=TRACKER_ENV)
    for anomaly in (1, 2, 3):
        assert gateway.post("qualytics", delivery(anomaly, description=f"bad row {anomaly}")).status_code == 202
    gateway.post("qualytics", delivery(9, container="customers"))
    gateway.drain()

    orders, customers = sorted(gateway.tickets(), key=lambda t: t["id"])
    assert anomaly_ids(orders) == ["1", "2", "3"] and anomaly_ids(customers) == ["9"]
    assert orders["correlation_key"] == "group:open-dq-ticket:Production DB/orders"
    assert orders["resolve_when"] == "all"
    first = orders["anomalies"][0]
    assert first["source"] == "qualytics" and first["first_seen"] and first["last_seen"]
    linked = [e for e in gateway.ticket(orders["number"])["timeline"] if e["kind"] == "anomaly_linked"]
    assert [(e["data"]["source"], e["data"]["anomaly_id"]) for e in linked] == [("qualytics", "2"), ("qualytics", "3")]
    [issue, other] = sorted(trackers.issues(), key=lambda i: i["id"])
    assert len(trackers.issues()) == 2 and len(trackers.incidents()) == 2
    [comment] = issue["comments"]  # one comment for both anomalies, not one each
    text = comment
    assert "Anomalies linked to this ticket: 2" in text and "qualytics:2" in text and "qualytics:3" in text
    assert other["comments"] == []


def test_a_later_anomaly_goes_in_the_next_comment_and_a_recurrence_joins_nothing_new(gateway_grouped: Harness) -> None:
    gateway = gateway_grouped
    gateway.post("qualytics", delivery(1))
    gateway.post("qualytics", delivery(2))
    gateway.drain()
    gateway.post("qualytics", delivery(3))
    gateway.post("qualytics", delivery(2, timestamp="2026-01-25T13:00:00Z"))  # anomaly 2 again
    gateway.drain()
    comments = [e for e in gateway.executions(flow="anomalies") if e["action"] == "comment"]
    assert len(comments) == 2
    [ticket] = gateway.tickets()
    assert anomaly_ids(ticket) == ["1", "2", "3"] and ticket["occurrences"] == 2


@pytest.fixture
def gateway_grouped(make_gateway: MakeHarness) -> Harness:
    return make_gateway(grouped(dict(LOCAL_MAPPINGS)))


def test_a_status_change_on_one_of_many_anomalies_waits_for_all(gateway_grouped: Harness) -> None:
    gateway = gateway_grouped
    for anomaly in (1, 2, 3):
        gateway.post("qualytics", delivery(anomaly))
    gateway.drain()
    status(gateway, 2, "Resolved")
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "New"
    assert {a["anomaly_id"]: a["status"] for a in ticket["anomalies"]}["2"] == "Resolved"
    [waiting] = [e for e in gateway.executions(action="update_ticket_status") if e["status"] == "skipped"]
    assert waiting["error"].startswith("1 of 3 anomalies ask for Resolved")
    entries = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "anomaly_status_changed"]
    assert entries[-1]["data"]["anomaly_id"] == "2" and entries[-1]["data"]["to"] == "Resolved"
    status(gateway, 1, "Resolved")
    gateway.drain()
    assert gateway.ticket("DQ-1")["state"] == "New"
    status(gateway, 3, "Resolved")
    gateway.drain()
    assert gateway.ticket("DQ-1")["state"] == "Resolved"


def test_resolve_when_any_follows_the_first_anomaly(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(grouped(dict(LOCAL_MAPPINGS), resolve_when="any"))
    for anomaly in (1, 2):
        gateway.post("qualytics", delivery(anomaly))
    status(gateway, 2, "Resolved")
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "Resolved" and ticket["resolve_when"] == "any"


def test_forty_anomalies_of_one_group_delivered_at_once_make_one_ticket(tmp_path: Any, redis_url: str) -> None:
    """Four runtimes on one database (as four web processes), forty threads posting at the same moment."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name, text in grouped(dict(LOCAL_MAPPINGS)).items():
        (mappings / name).write_text(text)
    settings = Settings(mappings=mappings, database_url=f"sqlite:///{tmp_path / 'gw.db'}", var_dir=tmp_path)
    env = {"QUALYTICS_SECRET": QUALYTICS_SECRET}
    runtimes = [Runtime.load(settings, env) for _ in range(4)]
    start = threading.Barrier(40)
    answers: list[int] = []

    def deliver(anomaly: int) -> None:
        body = json.dumps(delivery(anomaly)).encode()
        headers = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}
        start.wait()
        answers.append(accept(runtimes[anomaly % 4], None, "qualytics", headers, body)[1])

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(1, 41)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [202] * 40
    [ticket] = runtimes[0].mirror.list_tickets()
    assert sorted(int(a.anomaly_id) for a in runtimes[0].mirror.anomalies(ticket.id)) == list(range(1, 41))
    creates = runtimes[0].mirror.list_executions(action="create_ticket")
    assert len(creates) == 1


def test_link_and_unlink_by_hand_moves_an_anomaly_and_says_from_where(make_gateway: MakeHarness) -> None:
    gateway = make_gateway()
    gateway.post("qualytics", delivery(1))
    gateway.post("qualytics", delivery(2))
    gateway.drain()
    body = {"source": "qualytics", "anomaly_id": "2"}
    linked = gateway.client.post("/v1/tickets/DQ-1/anomalies", json=body)
    assert linked.status_code == 200, linked.text
    assert linked.json()["moved_from"] == "DQ-2"
    assert anomaly_ids(linked.json()["ticket"]) == ["1", "2"]
    assert anomaly_ids(gateway.ticket("DQ-2")) == []
    assert gateway.ticket("DQ-2")["anomaly_ids"] == []  # what its templates and webhooks name
    [left] = [e for e in gateway.ticket("DQ-2")["timeline"] if e["kind"] == "anomaly_unlinked"]
    assert left["data"]["moved_to"] == "DQ-1"
    again = gateway.client.post("/v1/tickets/DQ-1/anomalies", json=body)
    assert again.status_code == 409 and again.json()["error"] == "already_linked"

    status(gateway, 2, "Resolved")  # follows the anomaly to DQ-1, which waits for anomaly 1 too
    gateway.drain()
    assert gateway.ticket("DQ-1")["state"] == "New" and gateway.ticket("DQ-2")["state"] == "New"

    removed = gateway.client.request("DELETE", "/v1/tickets/DQ-1/anomalies", json=body)
    assert removed.status_code == 200 and anomaly_ids(removed.json()["ticket"]) == ["1"]
    assert removed.json()["ticket"]["anomaly_ids"] == ["1"]
    gone = gateway.client.request("DELETE", "/v1/tickets/DQ-1/anomalies", json=body)
    assert gone.status_code == 404 and gone.json()["error"] == "not_linked"
    unknown = gateway.client.post("/v1/tickets/DQ-1/anomalies", json={"source": "nope", "anomaly_id": "2"})
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]
    missing = gateway.client.post("/v1/tickets/DQ-1/anomalies", json={"source": "qualytics"})
    assert missing.status_code == 422 and "anomaly_id" in missing.json()["detail"]


def test_link_from_chat(make_gateway: MakeHarness) -> None:
    from tests.chatops.support import CHAT_SETTINGS, slash

    gateway = make_gateway(LOCAL_MAPPINGS, **CHAT_SETTINGS)
    gateway.post("qualytics", delivery(1))
    gateway.post("qualytics", delivery(2))
    answer = slash(gateway, "DQ-1 link qualytics:2").json()["text"]
    assert answer == "qualytics:2 linked to DQ-1 (moved from DQ-2)."
    [entry] = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "anomaly_linked"]
    assert entry["actor"] == "slack:steve" and entry["data"]["moved_from"] == "DQ-2"
    assert slash(gateway, "DQ-1 link two").json()["text"].startswith("Name one anomaly")
    assert slash(gateway, "DQ-1 unlink qualytics:2").json()["text"] == "qualytics:2 unlinked from DQ-1."


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('          group_by: "{{ event.nope }}"\n', "group_by: event has no field 'nope'"),
        ("          resolve_when: any\n", "resolve_when: resolve_when applies to grouped tickets"),
        ('          group_by: "x"\n          resolve_when: some\n', "resolve_when"),
    ],
)
def test_bad_grouping_fails_at_load_naming_the_field(tmp_path: Any, extra: str, problem: str) -> None:
    for name, text in LOCAL_MAPPINGS.items():
        (tmp_path / name).write_text(text.replace("          targets: [mirror]", extra + "          targets: [mirror]"))
    with pytest.raises(MappingErrors) as raised:
        load_mappings(tmp_path, {"QUALYTICS_SECRET": "x"})
    assert "flows.yaml: flow 'open-dq-ticket'" in str(raised.value) and problem in str(raised.value)


def test_tickets_of_an_older_database_get_their_anomaly_when_migrated(tmp_path: Any) -> None:
    import sqlite3

    from gateway.record.mirror import _MIGRATIONS, Mirror

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.executescript(_MIGRATIONS[1] + ";" + _MIGRATIONS[2])
        conn.execute("INSERT INTO schema_version VALUES (2)")
        for generation, state in ((1, "Closed"), (2, "New")):
            conn.execute(
                "INSERT INTO tickets (correlation_key, generation, state, source, fields, targets, anomaly_ids,"
                " created_at, updated_at) VALUES ('qualytics:7', ?, ?, 'qualytics', '{}', '[]', '[\"7\"]', 0, 0)",
                (generation, state),
            )
    mirror = Mirror(path)
    assert [(a.anomaly_id, a.active) for a in mirror.anomalies(1, active_only=False)] == [("7", False)]
    assert [(a.anomaly_id, a.active) for a in mirror.anomalies(2)] == [("7", True)]
