"""`gateway check --live`: the shipped mappings against the sandbox emulators, and one broken mapping per check."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.jira import ScreenField, Transition, Workflow, default_screen, sandbox
from connectors.emulators.servicenow import ServiceNowEmulator
from gateway.run.cli import main

SHIPPED = Path(__file__).parents[2] / "mappings"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """Copies the shipped mappings, applies edits, starts the emulators (options per tracker), runs the check."""
    servers: list[EmulatorHTTPServer] = []

    def run(
        edits: dict[str, tuple[str, str]] | None = None,
        jira: dict[str, Any] | None = None,
        *extra: str,
    ) -> tuple[int, str, str]:
        directory = tmp_path / "mappings"
        shutil.copytree(SHIPPED, directory, dirs_exist_ok=True)
        for name, (old, new) in (edits or {}).items():
            text = (directory / name).read_text()
            assert old in text, old
            (directory / name).write_text(text.replace(old, new, 1))
        jira_server = EmulatorHTTPServer(sandbox(**(jira or {})), "127.0.0.1", 0).start()
        snow_server = EmulatorHTTPServer(ServiceNowEmulator(), "127.0.0.1", 0).start()
        servers.extend([jira_server, snow_server])
        monkeypatch.setenv("JIRA_URL", jira_server.url)
        monkeypatch.setenv("SERVICENOW_URL", snow_server.url)
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(["check", "--live", "--mappings", str(directory), *extra])
        out = capsys.readouterr()
        return int(done.value.code or 0), out.out, out.err

    for variable in ("JIRA_USER", "JIRA_API_TOKEN", "SERVICENOW_USER", "SERVICENOW_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    yield run
    for server in servers:
        server.stop()


def test_the_shipped_example_mappings_pass_against_the_sandbox(live: Run) -> None:
    code, out, err = live()
    assert code == 0, err
    assert "target jira: live ok: DQ/Bug" in out
    assert "target snow: live ok: incident:" in out
    assert "error" not in err


def test_target_limits_the_check_to_one_target(live: Run) -> None:
    code, out, _ = live(None, None, "--target", "snow")
    assert code == 0
    assert "target snow: live ok" in out and "target jira" not in out


T, F, C = "targets.yaml", "flows.yaml", "catalog.yaml"
BROKEN = {
    "jira-token": (
        {T: ('"${JIRA_API_TOKEN:-sandbox-token}"', "wrong-token")},
        None,
        "targets.jira: field user/token: 'sandbox': credentials refused",
    ),
    "jira-down": (  # nothing listens: the credentials were never tried, so they are not blamed
        {T: ('"${JIRA_URL:-http://127.0.0.1:9001}"', "http://127.0.0.1:9")},
        None,
        "targets.jira: field url: 'http://127.0.0.1:9': Jira did not answer",
    ),
    "snow-down": (
        {T: ('"${SERVICENOW_URL:-http://127.0.0.1:9002}"', "http://127.0.0.1:9")},
        None,
        "targets.snow: field url: 'http://127.0.0.1:9': live check: could not reach the instance",
    ),
    "jira-cloud-sync-user": (  # Cloud names users by accountId: the e-mail-like user is not what webhooks say
        None,
        {"deployment": "Cloud", "people": {"sandbox": "5b10ac8d82e05b22cc7d4ef5"}},
        "targets.jira: field sync.gateway_user: 'sandbox': Jira names this user 5b10ac8d82e05b22cc7d4ef5 in webhooks",
    ),
    "jira-project": (
        {T: ("project: DQ", "project: DQX")},
        None,
        "targets.jira: field project: 'DQX': no such project (or this user cannot see it); jira offers: DQ",
    ),
    "jira-issue-type": (
        {T: ("issue_type: Bug", "issue_type: Story")},
        None,
        "field issue_type: 'Story': not in the project; jira offers: Bug",
    ),
    "jira-required-field": (
        {},
        {"screen": {**default_screen(), "customfield_10200": ScreenField("Data owner", "string", required=True)}},
        "field fields: 'customfield_10200': the create screen requires this field (Data owner)"
        " and no ticket field is mapped to it",
    ),
    "jira-date-field": (
        {},
        {"screen": {**default_screen(), "customfield_10104": ScreenField("Found on", "date", custom="datepicker")}},
        "targets.jira: field fields.subcategory: 'customfield_10104': customfield_10104 (Found on) is a date field;"
        " a ticket field is text",
    ),
    "jira-number-field": (
        {},
        {"screen": {**default_screen(), "customfield_10101": ScreenField("Urgency", "number", custom="float")}},
        "targets.jira: field fields.urgency: 'High': customfield_10101 (Urgency) takes numbers",
    ),
    "jira-field-not-on-screen": (
        {T: ("subcategory: customfield_10104", "subcategory: customfield_19999")},
        None,
        "field fields.subcategory: 'customfield_19999': not on the create screen",
    ),
    "jira-select-option": (
        {F: ("severity_to_urgency: {critical: High", "severity_to_urgency: {critical: Urgent")},
        None,
        "field fields.urgency: 'Urgent': not an allowed value of customfield_10101 (Urgency);"
        " jira offers: High, Medium, Low",
    ),
    "jira-priority": (
        {T: ("Critical: Highest,", "Critical: Blocker,")},
        None,
        "field priorities.Critical: 'Blocker': no such priority; jira offers: Highest, High",
    ),
    "jira-priority-from-value-map": (  # priorities: maps no Urgent, so the issue is created with Jira's name Urgent
        {F: ("severity_to_priority: {critical: Critical", "severity_to_priority: {critical: Urgent")},
        None,
        "targets.jira: field priority: 'Urgent': no such priority (a flow or catalog item sends it and"
        " priorities: does not map it); jira offers: Highest, High, Medium, Low, Lowest",
    ),
    "jira-priority-literal": (
        {C: ("priority: High\n", "priority: Urgent\n")},
        None,
        "targets.jira: field priority: 'Urgent': no such priority",
    ),
    "jira-component": (
        {F: ("category: Data Quality", "category: Data Qualty")},
        None,
        "field components: 'Data Qualty': no such component in the project; jira offers: Data Quality, Pipelines",
    ),
    "jira-status": (
        {T: ("On Hold: To Do", "On Hold: Waiting")},
        None,
        "field statuses.On Hold: 'Waiting': not a status of Bug in DQ; jira offers: To Do, In Progress, Done",
    ),
    "jira-unreachable": (
        {T: ("Closed: Done", "Closed: Archived")},
        {
            "workflow": Workflow(
                statuses={
                    "To Do": ("10000", "new"),
                    "In Progress": ("3", "indeterminate"),
                    "Done": ("10001", "done"),
                    "Archived": ("10009", "done"),
                },
                transitions=[
                    Transition("11", "Start", "In Progress", ["To Do"]),
                    Transition("21", "Stop", "To Do", ["In Progress"]),
                    Transition("31", "Resolve", "Done", ["In Progress"], ["resolution"]),
                ],
            )
        },
        "field statuses.Closed: 'Archived': not reachable from 'To Do' within 6 transitions",
    ),
    "jira-resolution-screen": (
        None,
        {
            "workflow": Workflow(
                statuses={"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")},
                transitions=[
                    Transition("11", "Start", "In Progress", ["To Do"]),
                    Transition("31", "Resolve", "Done", ["In Progress"], ["resolution"]),
                    Transition("41", "Finish", "Done", ["To Do"], on_screen=["assignee"]),  # no resolution here
                    Transition("51", "Drop", "Done", ["To Do"]),  # and no screen at all
                ],
            )
        },
        "targets.jira: field statuses.Resolved: 'Done': transition 'Finish' into 'Done' has no resolution field"
        " on its screen 10041: the issue would be Done unresolved (also statuses.Closed, statuses.Canceled);"
        " jira offers: assignee (Assignee)",
    ),
    "jira-resolution-no-screen": (
        {T: ("Canceled: Done}", "Canceled: Archived}")},
        {
            "workflow": Workflow(
                statuses={"To Do": ("10000", "new"), "Done": ("10001", "done"), "Archived": ("10009", "done")},
                transitions=[
                    Transition("31", "Resolve", "Done", ["To Do"], ["resolution"]),
                    Transition("61", "Archive", "Archived", ["Done"]),
                ],
            )
        },
        "targets.jira: field statuses.Canceled: 'Archived': transition 'Archive' into 'Archived' has no resolution"
        " field on it (no screen): the issue would be Archived unresolved; jira offers: no screen",
    ),
    "jira-resolution": (
        {T: ('Canceled: "Won\'t Do"', "Canceled: Nope")},
        None,
        "field resolutions.Canceled: 'Nope': no such resolution; jira offers: Done, Won't Do",
    ),
    "snow-password": (
        {T: ('"${SERVICENOW_PASSWORD:-sandbox-password}"', "wrong")},
        None,
        "targets.snow: field user/password: 'sandbox': the instance refused the credentials (HTTP 401)",
    ),
    "snow-table": (
        {T: ("caller: dq.gateway", "caller: dq.gateway\n    table: u_dq_incident")},
        None,
        "targets.snow: field table: 'u_dq_incident': no such table on this instance",
    ),
    "snow-state": (
        {T: ("hold_reason: 1", "hold_reason: 1\n    states: {Canceled: 9}")},
        None,
        "field states.Canceled: '9': not a choice of incident.state (sys_choice); servicenow offers: 1 (New)",
    ),
    "snow-close-code": (
        {T: ('close_codes: {Canceled: "Duplicate"}', 'close_codes: {Canceled: "Dupe"}')},
        None,
        "field close_codes.Canceled: 'Dupe': not a choice of incident.close_code (sys_choice)",
    ),
    "snow-hold-reason": (
        {T: ("hold_reason: 1", "hold_reason: 2")},
        None,
        "field hold_reason: '2': not a choice of incident.hold_reason (sys_choice);"
        " servicenow offers: 1 (Awaiting Caller)",
    ),
    "snow-urgency": (
        {T: ("hold_reason: 1", "hold_reason: 1\n    urgency_impact: {High: 4}")},
        None,
        "field urgency_impact.High: '4': not a choice of incident.urgency (sys_choice)",
    ),
    "snow-impact": (
        {T: ("hold_reason: 1", "hold_reason: 1\n    urgency_impact: {High: 4}")},
        None,
        "field urgency_impact.High: '4': not a choice of incident.impact (sys_choice)",
    ),
    "snow-category": (
        {F: ("category: data_quality", "category: dq")},
        None,
        "field category: 'dq': not a choice of incident.category (sys_choice)",
    ),
    "snow-subcategory": (
        {F: ("subcategory: validation}", "subcategory: checks}")},
        None,
        "field subcategory: 'checks': not a choice of incident.subcategory (sys_choice)",
    ),
    "snow-caller": (
        {T: ("caller: dq.gateway", "caller: nobody.here")},
        None,
        "field caller: 'nobody.here': no sys_user record with this user_name or name or sys_id",
    ),
    "snow-group": (
        {F: ("assignment_group: data-platform", "assignment_group: data-platfrom")},
        None,
        "targets.snow: field assignment_group: 'data-platfrom': no sys_user_group record",
    ),
    "snow-catalog-subcategory": (
        {C: ("snow: {category: data_quality, subcategory: validation}", "snow: {category: data_quality}")},
        None,
        "targets.snow: field subcategory: 'Dashboard': not a choice of incident.subcategory (sys_choice)",
    ),
    "snow-chat-person": (
        {C: ("catalog:\n", "chatops:\n  users: {U024BE7LH: {snow: jane.doh}}\ncatalog:\n")},
        None,
        "targets.snow: field assigned_to: 'jane.doh': no sys_user record",
    ),
    "snow-assignee": (
        {F: ('assigned_to: ""', "assigned_to: jane.doh")},
        None,
        "targets.snow: field assigned_to: 'jane.doh': no sys_user record",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_mapping_that_breaks_a_check_exits_2_naming_file_target_field_value_and_offer(live: Run, case: str) -> None:
    edits, jira, message = BROKEN[case]
    code, _, err = live(edits, jira)
    assert code == 2
    assert message in err, err
    line = next(line for line in err.splitlines() if message in line)
    assert line.startswith("error: ") and "targets.yaml: targets." in line
    assert "live problem(s)" in err


def test_a_target_without_live_is_refused_not_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["check", "--mappings", str(SHIPPED), "--target", "jira"])
    out = capsys.readouterr()
    assert (done.value.code, out.out) == (2, "")
    assert out.err == "gateway: --target jira applies to the live check: gateway check --live --target jira\n"
