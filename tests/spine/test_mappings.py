"""Bad mappings fail at load, each error naming file, flow and field; `gateway check` and `serve` refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings

SOURCES = """
sources:
  qualytics: {kind: qualytics, secret: "${QSECRET:-s3cret}"}
targets:
  mirror: {kind: local}
value_maps:
  sev: {high: High, default: Medium}
"""

FLOW = """
flows:
  - name: {name}
    trigger: {{type: {trigger}}}
    actions:
{actions}
"""

CREATE = """      - create_ticket:
          targets: [mirror]
          short_description: "{{ event.check }}"
"""


STATE_MAP = "value_maps:\n  states: {Active: New, Resolved: Doen}\n"


def flow(actions: str = CREATE, trigger: str = "anomaly", name: str = "f1") -> str:
    return FLOW.format(name=name, trigger=trigger, actions=actions)


CASES = [
    (
        "unknown action field",
        flow(CREATE + "          prioritee: High\n"),
        "flow 'f1'",
        "actions[0].create_ticket",
        "prioritee",
    ),
    (
        "template does not compile",
        flow(CREATE.replace("event.check }}", "event.check }")),
        "flow 'f1'",
        "short_description",
        "does not compile",
    ),
    (
        "unknown value map",
        flow(CREATE + "          priority: \"{{ event.severity | lookup('nope') }}\"\n"),
        "flow 'f1'",
        "priority",
        "value map 'nope' does not exist",
    ),
    (
        "unknown event field",
        flow(CREATE.replace("event.check", "event.chek")),
        "flow 'f1'",
        "short_description",
        "event has no field 'chek'",
    ),
    *[
        (
            f"template: {problem}",
            flow(CREATE.replace("{{ event.check }}", template)),
            "flow 'f1'",
            "actions[0].create_ticket.short_description",
            problem,
        )
        for template, problem in [
            ("{{ event['chek'] }}", "event has no field 'chek'"),
            ("{{ ticket.fields.nope }}", "ticket.fields has no field 'nope'; fields: short_description, description,"),
            ("{{ ticket.fields['nope'] }}", "ticket.fields has no field 'nope'"),
            ("{% if event.check is notatest %}x{% endif %}", "no test named 'notatest'"),
            ("{% if event.check %}{{ event.check | nofilter }}{% endif %}", "no filter named 'nofilter'"),
            (
                "{{ event.severity | lookup('sev', 'x') }}",
                "lookup takes one argument, the value map's name as a quoted",
            ),
            ("{{ event.severity | lookup(name='sev') }}", "lookup takes one argument"),
        ]
    ],
    (
        "ticketing under a manual trigger",
        flow(trigger="manual"),
        "flow 'f1'",
        "actions[0].create_ticket",
        "only under anomaly or anomaly_status_change",
    ),
    (
        "ticketing under a scheduled trigger",
        flow(trigger="scheduled"),
        "flow 'f1'",
        "actions[0].create_ticket",
        "not scheduled",
    ),
    (
        "notify not last",
        flow("      - notify: {channels: [c1]}\n" + CREATE),
        "flow 'f1'",
        "actions[0].notify",
        "must be the last action",
    ),
    (
        "unknown target",
        flow(CREATE.replace("[mirror]", "[jira]")),
        "flow 'f1'",
        "targets",
        "target 'jira' is not defined",
    ),
    (
        "unknown channel",
        flow(CREATE + "      - notify: {channels: [nowhere]}\n"),
        "flow 'f1'",
        "channels",
        "channel 'nowhere' is not defined",
    ),
    (
        "notify to no channel",
        flow(CREATE + "      - notify: {channels: []}\n"),
        "flow 'f1'",
        "actions[1].notify.channels",
        "notify needs at least one channel (or leave the action out)",
    ),
    (
        "notify with a negative wait",
        flow(CREATE + "      - notify: {channels: [c1], wait: -5}\n"),
        "flow 'f1'",
        "actions[1].notify.wait",
        "-5.0 is not a wait: seconds, 0 (at once) or more",
    ),
    (
        "status update to no target",
        flow("      - update_ticket_status: {targets: []}\n", trigger="anomaly_status_change"),
        "flow 'f1'",
        "actions[0].update_ticket_status.targets",
        "update_ticket_status needs at least one target (leave targets out for all)",
    ),
    (
        "bad static status",
        flow(CREATE + "          status: Sideways\n"),
        "flow 'f1'",
        "status",
        "'Sideways' is not a state",
    ),
    (
        "per_target for another target",
        flow(CREATE + "          per_target: {snow: {category: x}}\n"),
        "flow 'f1'",
        "per_target.snow",
        "not one of this action's targets",
    ),
    ("unknown trigger type", flow(trigger="sometimes"), "flow 'f1'", "trigger", "sometimes"),
    *[
        (
            f"source: {source}",
            flow().replace("    trigger:", f"    source: {source}\n    trigger:"),
            "flow 'f1'",
            "source",
            f"{shown} is not a source name or a list of them (leave source out for every source)",
        )
        for source, shown in [("5", "5"), ("[[qualytics]]", "[['qualytics']]"), ("[]", "[]"), ("{q: 1}", "{'q': 1}")]
    ],
    *[
        (
            f"ticket event where.{key}",
            flow(
                '      - webhook: {url: "https://hooks.example/dq"}\n',
                trigger=f"ticket_status_changed, where: {{{key}: [{value}]}}",
            ),
            "flow 'f1'",
            f"trigger.where.{key}",
            problem,
        )
        for key, value, problem in [
            ("status", "Reslved", "'Reslved' is not a ticket state; one of New, In Progress, On Hold, Resolved,"),
            ("status", "in_progress", "'in_progress' is not a ticket state; one of New, In Progress,"),
            ("origin", "snow", "'snow' is not an origin; one of jira, servicenow, api, chat, console, anomaly"),
        ]
    ],
    (
        "status value map with a non-state",
        flow(CREATE + "          status: \"{{ event.status | lookup('states') }}\"\n") + STATE_MAP,
        "flow 'f1'",
        "actions[0].create_ticket.status",
        "value map 'states' maps 'Resolved' to 'Doen', which is not a state; states: New, In Progress,",
    ),
    (
        "target_status value map with a non-state",
        flow(
            "      - update_ticket_status: {target_status: \"{{ event.status | lookup('states') }}\"}\n",
            trigger="anomaly_status_change",
        )
        + STATE_MAP,
        "flow 'f1'",
        "actions[0].update_ticket_status.target_status",
        "value map 'states' maps 'Resolved' to 'Doen', which is not a state",
    ),
]


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(("flows", "where", "field", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_flow_names_file_flow_and_field(tmp_path: Path, flows: str, where: str, field: str, problem: str) -> None:
    directory = write(tmp_path / "m", {"base.yaml": SOURCES, "flows.yaml": flows})
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    text = str(caught.value)
    assert f"{directory / 'flows.yaml'}: {where}: field " in text
    assert field in text and problem in text


@pytest.mark.parametrize(
    ("files", "file", "where", "problem"),
    [
        (
            {"a.yaml": "targets:\n  jira: {kind: jira, url: 'https://x', project: DQ, token: t, colour: red}\n"},
            "a.yaml",
            "target 'jira': field colour",
            "unknown field",
        ),
        (
            {"a.yaml": "sources:\n  q: {kind: qualytics, secret: '${MISSING_SECRET}'}\n"},
            "a.yaml",
            "source 'q'",
            "MISSING_SECRET is not set",
        ),
        ({"a.yaml": "sources:\n  q: {kind: qualytics}\n"}, "a.yaml", "source 'q'", "no authentication configured"),
        (
            {"a.yaml": "sources:\n  q: {kind: qualytics, token: t}\n"},
            "a.yaml",
            "source 'q': field token",
            "qualytics sources do not use token",
        ),
        (
            {"a.yaml": "sources:\n  q: {kind: nagios, token: t}\n"},
            "a.yaml",
            "source 'q': field kind",
            "unknown source kind 'nagios'",
        ),
        (
            {"a.yaml": "targets:\n  t: {kind: local}\n", "b.yaml": "targets:\n  t: {kind: local}\n"},
            "b.yaml",
            "target 't'",
            "defined twice",
        ),
        ({"a.yaml": "widgets: {}\n"}, "a.yaml", "document", "unknown section 'widgets'"),
        (
            {"a.yaml": "lifecycle: {transitions: {New: [Done]}}\n"},
            "a.yaml",
            "lifecycle: field transitions",
            "'Done' is not a state",
        ),
        (
            {
                "a.yaml": "targets:\n  s: {kind: servicenow, url: 'http://127.0.0.1:1', user: u, password: p,"
                " close_notes: '{{ oops'}\n"
            },
            "a.yaml",
            "target 's'",
            "close_notes",
        ),
        *[
            (
                {
                    "a.yaml": "targets:\n  s: {kind: servicenow, url: 'http://127.0.0.1:1', user: u, password: p,"
                    f" close_notes: '{notes}'}}\n"
                },
                "a.yaml",
                "target 's': field close_notes",
                problem,
            )
            for notes, problem in [
                ("Closed as {{ ticket.numbr }}", "ticket has no field 'numbr'"),
                ("Closed in {{ ticket.state }}", "ticket has no field 'state'"),  # flows have it; close notes do not
                ("Seen in {{ event.sorce }}", "event has no field 'sorce'"),
                (
                    '{% if ticket.note %}{{ ticket.status | lookup("m") }}{% endif %}',
                    "lookup reads value maps in flows and catalog items; it is not",
                ),
            ]
        ],
    ],
)
def test_bad_definitions_name_file_and_field(
    tmp_path: Path, files: dict[str, str], file: str, where: str, problem: str
) -> None:
    directory = write(tmp_path / "m", files)
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    text = str(caught.value)
    assert f"{directory / file}: {where}" in text, text
    assert problem in text, text


def test_a_value_map_is_held_to_states_only_where_it_gives_the_status(tmp_path: Path) -> None:
    """The same outputs are fine for another field, and state names read as the runtime reads them."""
    fields = (
        "          priority: \"{{ event.severity | lookup('sev') }}\"\n"  # sev gives High and Medium: no states
        "          status: \"{{ event.status | lookup('states') }}\"\n"
    )
    maps = "value_maps:\n  states: {Active: new, Resolved: done, Invalid: in_progress}\n"
    directory = write(tmp_path / "m", {"base.yaml": SOURCES, "flows.yaml": flow(CREATE + fields) + maps})
    load_mappings(directory, {})
    write(directory, {"flows.yaml": flow(CREATE + fields) + maps.replace("}", ", default: High}")})
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    assert "value map 'states' maps 'default' to 'High', which is not a state" in str(caught.value)


def test_every_problem_of_a_load_is_reported(tmp_path: Path) -> None:
    directory = write(
        tmp_path / "m",
        {
            "base.yaml": SOURCES,
            "flows.yaml": flow(
                CREATE.replace("event.check", "event.nope") + "          status: Sideways\n", trigger="manual"
            ),
        },
    )
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    assert len(caught.value.errors) == 3


def test_the_example_mappings_load() -> None:
    mappings = load_mappings(Path(__file__).parents[2] / "mappings", {})
    assert {"jira", "snow"} <= set(mappings.targets)
    assert [f.name for f in mappings.flows] == [
        "open-dq-ticket",
        "follow-anomaly-status",
        "tell-qualytics-resolved-in-jira",
    ]


def gateway_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def test_gateway_check_and_serve_refuse_bad_mappings(tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"base.yaml": SOURCES, "flows.yaml": flow(trigger="manual")})
    check = gateway_command("check", "--mappings", str(directory), cwd=tmp_path)
    assert check.returncode == 2
    assert "flows.yaml: flow 'f1': field actions[0].create_ticket" in check.stderr
    serve = gateway_command("--mappings", str(directory), "serve", "--no-sandbox", "--port", "0", cwd=tmp_path)
    assert serve.returncode == 2
    assert "does not start with broken mappings" in serve.stderr
    assert not (tmp_path / "var").exists()  # refused before anything started


def test_gateway_check_accepts_good_mappings(tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"base.yaml": SOURCES, "flows.yaml": flow()})
    check = gateway_command("check", "--mappings", str(directory), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "1 flow(s)" in check.stdout


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('{kind: great_expectations, token: t, anomaly_id: "{suite}:{partition}"}', "unknown part(s) 'partition'"),
        ('{kind: great_expectations, token: t, anomaly_id: "fixed"}', "names no part"),
        ('{kind: great_expectations, token: t, anomaly_id: "{suite"}', "not a template"),
        ('{kind: qualytics, secret: s, anomaly_id: "{suite}"}', "take the tool's own anomaly ids"),
    ],
)
def test_a_bad_anomaly_id_template_names_the_source_and_field(tmp_path: Path, source: str, problem: str) -> None:
    files = {"base.yaml": SOURCES.replace("sources:\n", f"sources:\n  gx: {source}\n"), "flows.yaml": flow()}
    directory = write(tmp_path / "n", files)
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    text = str(caught.value)
    assert "source 'gx': field anomaly_id" in text and problem in text


@pytest.mark.parametrize("kind", ["manual", "scheduled"])
def test_a_notify_flow_under_a_trigger_nothing_fires_loads_with_a_warning(tmp_path: Path, kind: str) -> None:
    channel = "channels:\n  c1: {kind: slack, webhook_url: u}\n"
    notify = flow("      - notify: {channels: [c1]}\n", trigger=kind) + channel
    directory = write(tmp_path / "m", {"base.yaml": SOURCES, "flows.yaml": notify})
    [warning] = load_mappings(directory, {}).warnings
    assert f"flows.yaml: flows.f1: trigger {kind} never fires" in warning
    check = gateway_command("check", "--mappings", str(directory), cwd=tmp_path)
    assert check.returncode == 0 and f"trigger {kind} never fires" in check.stdout + check.stderr
