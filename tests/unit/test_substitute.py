"""${VAR} in the mappings reads as a shell reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import MappingErrors, load_mappings, substitute


def test_a_default_stands_for_an_unset_or_empty_variable() -> None:
    missing: list[str] = []
    env = {"SET": "value", "EMPTY": ""}
    found = substitute(["${SET:-d}", "${EMPTY:-d}", "${UNSET:-d}", "${EMPTY}", "a ${SET} b"], env, missing)
    assert found == ["value", "d", "d", "", "a value b"]
    assert missing == []


def test_an_unset_variable_without_a_default_is_named() -> None:
    missing: list[str] = []
    assert substitute({"k": ["${NOPE}"]}, {}, missing) == {"k": [""]}
    assert missing == ["NOPE"]


def _problems(tmp_path: Path, text: str, env: dict[str, str]) -> list[tuple[str, str]]:
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(MappingErrors) as failed:
        load_mappings(tmp_path, env)
    return [(error.where, error.problem) for error in failed.value.errors]


def test_an_unset_secret_is_one_problem_not_a_cascade_of_empty_values(tmp_path: Path) -> None:
    text = """
sources:
  q: {kind: qualytics, secret: "${QS}"}
targets:
  n: {kind: servicenow, url: "https://x.service-now.com", user: me, password: "${NP}"}
"""
    assert _problems(tmp_path, text, {}) == [
        ("source 'q'", "environment variable QS is not set and has no default (${QS:-...})"),
        ("target 'n'", "environment variable NP is not set and has no default (${NP:-...})"),
    ]
    # set and empty, it is still refused, with the reason
    [(where, problem)] = _problems(tmp_path, text, {"QS": "", "NP": "a-long-enough-password-1"})
    assert where == "source 'q'" and problem.startswith("no authentication configured")


def test_a_bare_on_key_and_a_missing_trigger_are_named_as_written(tmp_path: Path) -> None:
    text = """
flows:
  - name: f
    on: anomaly
    zzz: 1
    actions: [{create_ticket: {targets: [mirror]}}]
"""
    problems = dict(_problems(tmp_path, text, {}))
    on = "flow 'f': field on (True: YAML reads a bare on/off/yes/no as a boolean)"
    assert problems[on].endswith("what fires a flow goes under trigger:")
    assert problems["flow 'f': field zzz"].startswith("unknown field")
    assert problems["flow 'f': field trigger"].startswith("missing: ")


def test_a_dollar_brace_that_is_no_reference_is_named_and_a_doubled_dollar_is_a_literal(tmp_path: Path) -> None:
    text = """
sources:
  q: {kind: qualytics, secret: "${QS"}
  g: {kind: generic, hmac_secret: "${1GS}"}
targets:
  t: {kind: local}
flows:
  - name: f
    trigger: {type: anomaly}
    actions:
      - create_ticket: {targets: [t], description: "costs $${{ event.weight }} ${COST-none}"}
"""
    fix = "write ${NAME} or ${NAME:-default} (NAME: letters, digits and _, not starting with a digit); for a literal"
    assert _problems(tmp_path, text, {"QS": "a-long-qualytics-secret"}) == [
        ("source 'q': field secret", f"'${{QS' is not a variable reference: {fix} ${{ write $${{"),
        ("source 'g': field hmac_secret", f"'${{1GS}}' is not a variable reference: {fix} ${{ write $${{"),
        (
            "flow 'f': field actions[0].create_ticket.description",
            f"'${{COST-none}}' is not a variable reference: {fix} ${{ write $${{",
        ),
    ]
    fixed = text.replace('"${QS"', '"${QS}"').replace("${1GS}", "${GS:-x}").replace("-none", "")
    (tmp_path / "a.yaml").write_text(fixed)
    flow = load_mappings(tmp_path, {"QS": "a-long-qualytics-secret", "COST": "EUR"}).flows[0]
    assert flow.actions[0][1].description == "costs ${{ event.weight }} EUR"  # type: ignore[union-attr]
