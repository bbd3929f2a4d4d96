"""Payload text is data in Jira: wiki markup from an anomaly arrives escaped, not rendered."""

from __future__ import annotations

from tests.conftest import TRACKER_ENV, MakeHarness, Trackers, qualytics_delivery

HOSTILE = "{code}rm -rf{code} see [details|http://evil.example/login] !http://evil.example/pixel.png! *urgent*"
ESCAPED = (
    r"\{code\}rm -rf\{code\} see \[details\|http://evil.example/login\] \!http://evil.example/pixel.png\! \*urgent\*"
)


def test_payload_markup_reaches_jira_escaped(make_gateway: MakeHarness, trackers: Trackers) -> None:
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV)
    assert gateway.post("qualytics", qualytics_delivery(1, description=HOSTILE)).status_code == 202
    gateway.drain()
    [issue] = trackers.issues()
    description = issue["fields"]["description"]
    assert description.startswith(ESCAPED)
    assert "{code}" not in description and "[details|" not in description
    # ServiceNow descriptions are plain text: the payload arrives as it was.
    [incident] = trackers.incidents()
    assert incident["description"].startswith(HOSTILE)


def test_a_target_may_trust_a_fields_markup(make_gateway: MakeHarness, trackers: Trackers) -> None:
    files = trackers.mappings(jira_extra="    trusted_markup: [description]")
    gateway = make_gateway(files, env=TRACKER_ENV)
    assert gateway.post("qualytics", qualytics_delivery(1, description="h2. {code}x{code}")).status_code == 202
    gateway.drain()
    [issue] = trackers.issues()
    assert issue["fields"]["description"].startswith("h2. {code}x{code}")


def test_a_status_note_is_escaped_in_the_jira_comment(make_gateway: MakeHarness, trackers: Trackers) -> None:
    flows = trackers.mappings()["flows.yaml"].replace(
        "update_ticket_status: {target_status: \"{{ event.status | lookup('anomaly_to_ticket') }}\"}",
        "update_ticket_status: {target_status: \"{{ event.status | lookup('anomaly_to_ticket') }}\","
        ' note: "{{ event.description }}"}',
    )
    assert "note:" in flows
    gateway = make_gateway(trackers.mappings(flows=flows), env=TRACKER_ENV)
    gateway.post("qualytics", qualytics_delivery(1))
    gateway.drain()
    update = qualytics_delivery(1, trigger="Anomaly Status Change", status="Acknowledged", description=HOSTILE)
    assert gateway.post("qualytics", update).status_code == 202
    gateway.drain()
    [issue] = trackers.issues()
    assert issue["comments"] == [ESCAPED]
