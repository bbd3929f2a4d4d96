"""A mappings file the loader cannot take as it is (its bytes, its YAML) is a load error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings

GOOD = "targets:\n  mirror: {kind: local}\n"


def problems(directory: Path, files: dict[str, str | bytes]) -> list[str]:
    """Every problem of loading `files` (with one good file beside them), as `file: where: problem`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "good.yaml").write_text(GOOD)
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(MappingErrors) as caught:
        load_mappings(directory, {})
    return [str(error).removeprefix(f"{directory}/") for error in caught.value.errors]


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    latin1 = "flows: []\n# caf\u00e9 au lait\n".encode("latin-1")
    assert problems(tmp_path, {"a.yaml": latin1}) == [
        "a.yaml: document: not UTF-8 text: byte 0xe9 on line 2; save it as UTF-8"
    ]


def test_a_key_given_twice_is_named_where_yaml_would_have_dropped_the_first(tmp_path: Path) -> None:
    flows = """
flows:
  - name: first
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror], targets: [elsewhere]}}]
sources:
  q: {kind: qualytics, secret: one-secret-for-q, secret: another-secret-for-q}
  q: {kind: soda, token: a-token-for-soda}
flows:
  - name: second
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror]}}]
"""
    assert problems(tmp_path, {"a.yaml": flows}) == [
        "a.yaml: flow 'first': field actions[0].create_ticket.targets: given twice (lines 5 and 5); YAML would keep"
        " only the last, silently",
        "a.yaml: source 'q': field secret: given twice (lines 7 and 7); YAML would keep only the last, silently",
        "a.yaml: source 'q': given twice (lines 7 and 8); YAML would keep only the last, silently",
        "a.yaml: flows: given twice (lines 2 and 9); YAML would keep only the last, silently",
    ]


def test_aliases_that_would_expand_too_far_or_into_themselves_are_refused(tmp_path: Path) -> None:
    bomb = "value_maps:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )  # nine to the ninth strings once expanded: the load never finished
    assert problems(tmp_path, {"a.yaml": bomb}) == [
        "a.yaml: document: line 7: its aliases expand to more than 100000 values; write less through aliases"
    ]
    endless = "value_maps:\n  m: &m {k: [*m]}\n"
    assert problems(tmp_path / "endless", {"a.yaml": endless}) == [
        "a.yaml: document: line 2: an alias refers to the value it is inside of"
    ]


def test_an_anchor_shared_by_several_definitions_loads_as_if_written_out(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "targets:\n  jira: &local {kind: local}\n  snow: *local\n"
        "flows:\n"
        "  - name: open\n    trigger: {type: anomaly}\n    actions: &open [{create_ticket: {targets: [jira, snow]}}]\n"
        "  - name: also\n    trigger: {type: anomaly_status_change}\n    actions: *open\n"
    )
    mappings = load_mappings(tmp_path, {})
    assert sorted(mappings.targets) == ["jira", "snow"] and mappings.targets["snow"].kind == "local"
    assert [flow.name for flow in mappings.flows] == ["open", "also"]
    assert mappings.flows[1].actions == mappings.flows[0].actions


def test_nesting_past_any_mapping_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    deep = "value_maps:\n  m: " + "[" * 5000 + "]" * 5000 + "\n"
    assert problems(tmp_path, {"a.yaml": deep}) == ["a.yaml: document: line 2: nested more than 40 levels deep"]


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = "value_maps:\n  m:\n" + "".join(f"    k{i}: value number {i}\n" for i in range(60_000))
    [problem] = problems(tmp_path, {"a.yaml": huge})
    assert problem == f"a.yaml: document: {len(huge)} bytes; a mappings file may hold 1048576 (1 MiB): split it"


@pytest.mark.parametrize("text", ["", "\n\n", "# flows moved to flows.yaml\n", "---\n"])
def test_an_empty_file_is_an_error_not_a_file_without_flows(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, {"a.yaml": text}) == [
        "a.yaml: document: empty: no section (sources, targets, channels, value_maps, flows, lifecycle, chatops,"
        " catalog); fill the file or remove it"
    ]


def test_a_name_that_is_not_text_is_named_as_written(tmp_path: Path) -> None:
    text = """
sources:
  1: {kind: qualytics, secret: a-long-qualytics-secret}
targets:
  2: {kind: local}
  yes: {kind: local}
flows:
  - name: ""
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror]}}]
  - name: [a, b]
    trigger: {type: anomaly}
    actions: [{create_ticket: {targets: [mirror]}}]
"""
    assert problems(tmp_path, {"a.yaml": text}) == [
        "a.yaml: source 1: 1 is not a name: names are text; quote it ('1') if that is the name",
        "a.yaml: target 2: 2 is not a name: names are text; quote it ('2') if that is the name",
        "a.yaml: target True: True is not a name: YAML reads a bare yes/no/on/off as a boolean; quote the name",
        "a.yaml: flow 'flows[0]': field name: '' is not a flow name",
        "a.yaml: flow 'flows[1]': field name: ['a', 'b'] is not a flow name",
    ]


def test_a_broken_definition_is_reported_once_where_it_is_and_chat_users_are_checked_beside_it(
    tmp_path: Path,
) -> None:
    text = """
sources:
  q: {kind: qualytics}
targets:
  jira: {kind: local, colour: red}
channels:
  team: {kind: slack}
value_maps:
  sev: [high, low]
chatops:
  users: {U1: {snow: alice}, U2: {jira: bob}}
flows:
  - name: f
    source: [q]
    trigger: {type: anomaly}
    actions:
      - create_ticket: {targets: [jira], priority: "{{ event.severity | lookup('sev') }}"}
      - notify: {channels: [team]}
catalog:
  broken-dashboard: {targets: [jira]}
"""
    assert problems(tmp_path, {"a.yaml": text}) == [
        "a.yaml: source 'q': no authentication configured: set one of secret (or allow_unauthenticated: true)",
        "a.yaml: target 'jira': field colour: unknown field",
        "a.yaml: channel 'team': a slack channel needs webhook_url, or bot_token and channel",
        "a.yaml: value map 'sev': a value map is a mapping of values to values",
        "a.yaml: chatops: field users.U1.snow: no target 'snow'; known: jira, mirror",
    ]


def test_a_value_map_key_or_value_yaml_does_not_read_as_text_says_to_quote_it(tmp_path: Path) -> None:
    text = """
value_maps:
  answers: {on: Active, ~: Unknown, 1.50: Low, 2: Medium, "off": Closed, maybe: yes}
"""
    boolean = "YAML reads a bare yes/no/on/off/true/false as a boolean"
    assert problems(tmp_path, {"a.yaml": text}) == [
        f"a.yaml: value map 'answers': field True: True is not text: {boolean} (looked up as 'True'); quote the key"
        " as written",
        "a.yaml: value map 'answers': field None: None is not text: YAML reads a bare ~ or null as nothing (looked up"
        " as 'None'); quote the key as written",
        "a.yaml: value map 'answers': field 1.5: 1.5 is not text: YAML reads it as a float (looked up as '1.5'); quote"
        " the key as written",
        f"a.yaml: value map 'answers': field maybe: True is not text: {boolean} (looked up as 'True'); quote the value"
        " as written",
    ]
