"""`gateway check` warns when a summary template can render past Jira's 255 characters or the 160 of a
ServiceNow incident's short_description."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.loader import load_mappings

MAPPING = """
targets:
  jira: {{kind: jira, url: "https://jira.example", project: DQ, token: "t-0123456789abcdef",
         statuses: {{On Hold: To Do}}}}
value_maps:
  sev: {{high: "Severe data problem", default: "Data problem"}}
flows:
  - name: open
    trigger: {{type: anomaly}}
    actions:
      - create_ticket: {{targets: [jira], short_description: {summary}}}
"""


def warnings(tmp_path: Path, summary: str) -> list[str]:
    (tmp_path / "flows.yaml").write_text(MAPPING.format(summary=summary))
    return load_mappings(tmp_path, {}).warnings


def test_an_unbounded_summary_template_is_warned_about_naming_flow_and_target(tmp_path: Path) -> None:
    [warning] = warnings(tmp_path, '"{{ event.title }} in {{ event.container }}"')
    assert "flows.yaml: flows.open: actions[0].short_description for target jira cannot be bounded" in warning
    assert "cut with an ellipsis" in warning


@pytest.mark.parametrize(
    "summary",
    [
        '"DQ: {{ event.title | truncate(200) }}"',
        '"{{ event.title[:240] }}"',
        "\"{{ event.severity | lookup('sev') }}: {{ event.check[:100] }}\"",
        '"A fixed summary"',
        '"{% filter truncate(200) %}{% if event.check %}{{ event.check }}{% else %}{{ event.title }}{% endif %}'
        '{% endfilter %}"',
    ],
)
def test_a_bounded_summary_loads_without_warning(tmp_path: Path, summary: str) -> None:
    assert warnings(tmp_path, summary) == []


def test_a_bound_above_the_limit_is_warned_about_with_its_length(tmp_path: Path) -> None:
    [warning] = warnings(tmp_path, '"{{ event.title[:250] }} in {{ event.container[:50] }}"')
    assert "can render 304 characters; jira allows 255" in warning


def test_gateway_check_prints_warnings_and_still_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.run.cli import main

    (tmp_path / "flows.yaml").write_text(MAPPING.format(summary='"{{ event.title }}"'))
    with pytest.raises(SystemExit) as done:
        main(["check", "--mappings", str(tmp_path)])
    out = capsys.readouterr()
    assert done.value.code == 0
    assert out.out.startswith("ok:")
    assert "warning: " in out.err and "cannot be bounded" in out.err


SNOW = """
targets:
  snow: {{kind: servicenow, url: "https://example.service-now.com", user: gw, password: "p-0123456789abcdef"}}
flows:
  - name: open
    trigger: {{type: anomaly}}
    actions:
      - create_ticket: {{targets: [snow], short_description: {summary}}}
"""


@pytest.mark.parametrize(
    ("summary", "warned"),
    [
        ('"{{ event.title }}"', "cannot be bounded; snow allows 160"),
        ('"{{ event.title[:200] }}"', "can render 200 characters; snow allows 160"),
        ('"{{ event.title | truncate(155) }}"', None),
        ('"{{ event.title[:150] }}"', None),
    ],
)
def test_a_servicenow_short_description_past_the_incidents_160_characters_is_warned_about(
    tmp_path: Path, summary: str, warned: str | None
) -> None:
    (tmp_path / "flows.yaml").write_text(SNOW.format(summary=summary))
    found = load_mappings(tmp_path, {}).warnings
    if warned is None:
        assert found == []
    else:
        [warning] = found
        assert "flows.yaml: flows.open: actions[0].short_description for target snow" in warning
        assert warned in warning and "`| truncate(155)` or `[:155]`" in warning
