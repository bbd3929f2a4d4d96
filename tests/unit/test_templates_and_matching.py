"""Templates, value maps and flow matching: pure, no I/O."""

from __future__ import annotations

import pytest

from gateway.core.models import Event
from gateway.rules.matching import matching_flows, where_holds
from gateway.rules.schema import CreateTicket, Flow, Mappings, Trigger, Where
from gateway.rules.templates import RenderError, TemplateProblem, Templates, render_fields

MAPS = {"sev": {"critical": "P1", "high": "P2", "default": "P4"}, "strict": {"a": "A"}}


def event(**changes: object) -> Event:
    base: dict[str, object] = {
        "event_id": "e1",
        "event_type": "anomaly",
        "anomaly_id": "42",
        "source": "qualytics",
        "severity": "high",
        "datastore": "warehouse",
        "container": "orders",
        "check": "not_null",
        "status": "Active",
        "tags": ["finance", "daily"],
        "weight": 7.0,
        "title": "Nulls in <orders>",
    }
    base.update(changes)
    return Event(**base)  # type: ignore[arg-type]


def test_value_maps_translate_and_fall_back_to_default() -> None:
    templates = Templates(MAPS)
    assert templates.render("{{ event.severity | lookup('sev') }}", {"event": {"severity": "critical"}}) == "P1"
    assert templates.render("{{ event.severity | lookup('sev') }}", {"event": {"severity": "low"}}) == "P4"


def test_a_value_missing_from_a_map_without_default_names_map_and_value() -> None:
    with pytest.raises(RenderError, match="'b' is not in value map 'strict'"):
        Templates(MAPS).render("{{ event.check | lookup('strict') }}", {"event": {"check": "b"}})


@pytest.mark.parametrize(
    "source, problem",
    [
        ("{{ event.nope }}", "event has no field 'nope'"),
        ("{{ event.check | lookup('missing') }}", "value map 'missing' does not exist"),
        ("{{ secrets }}", "unknown name 'secrets'"),
        ("{{ event.check ", "does not compile"),
        ("{{ ticket.password }}", "ticket has no field 'password'"),
    ],
)
def test_templates_are_checked_when_loaded(source: str, problem: str) -> None:
    with pytest.raises(TemplateProblem, match=problem):
        Templates(MAPS).check(source)


def test_the_sandbox_refuses_reaching_into_python() -> None:
    with pytest.raises(RenderError):
        Templates({}).render("{{ event.__class__.__mro__[1].__subclasses__() }}", {"event": event().template_context()})


def test_render_fields_applies_per_target_overrides_and_keeps_payload_text_as_text() -> None:
    action = CreateTicket(
        targets=["jira", "snow"],
        short_description="{{ event.title }}",
        priority="{{ event.severity | lookup('sev') }}",
        per_target={"snow": {"priority": "1"}},
    )
    templates = Templates(MAPS)
    jira = render_fields(templates, action, event(), "jira")
    snow = render_fields(templates, action, event(), "snow")
    assert jira.short_description == "Nulls in <orders>"  # never HTML-escaped: escaping belongs to each sink
    assert (jira.priority, snow.priority) == ("P2", "1")


def flow(name: str, type_: str = "anomaly", sources: list[str] | None = None, **where: object) -> Flow:
    return Flow(
        name=name, file="t.yaml", sources=sources, trigger=Trigger(type=type_, where=Where(**where)), actions=[]
    )  # type: ignore[arg-type]


SUBSTITUTIONS = [
    "{{ event.check }} on {{ event.container }}",
    "  {{ event.title }}\n",
    "{{event.weight}}/{{ event.tags }}/{{ event.status }}/{{ event.previous_status }}",
    "{{- event.check -}} x {{ event.severity | lookup('sev') }}",
    "{{ ticket.number }} {{ form.title }}",
    "{% raw %}{{ event.check }}{% endraw %} {{ event.check }}",
]
OTHERS = [
    "{{ event.items }}",  # a dict's attribute comes first in Jinja
    "{{ event.check | upper }}",
    "{{ event['check'] }}",
    "{{ event.check ~ '!' }}",
    "{% if event.check %}{{ event.check }}{% endif %}",
]


@pytest.mark.parametrize("source", SUBSTITUTIONS + OTHERS)
def test_templates_render_as_jinja_renders_them_whatever_the_path(source: str) -> None:
    """Text with `{{ name.field }}` outputs renders without Jinja: the same text, the same failures."""
    templates = Templates(MAPS)
    jinja = templates._compiled(source)
    contexts = [
        {"event": event().template_context(), "ticket": {"number": "DQ-7"}, "form": {"title": "<b>x</b>"}},
        {"event": event(severity="low", weight=None).template_context(), "ticket": {"number": ""}, "form": {}},
    ]
    assert (templates._substitutions(source) is not None) == (source in SUBSTITUTIONS)
    for context in contexts:
        try:
            expected: str | BaseException = str(jinja.render(**context)).strip()
        except Exception as exc:  # the failure itself is compared
            expected = exc
        if isinstance(expected, str):
            assert templates.render(source, context) == expected
        else:
            with pytest.raises(RenderError) as raised:
                templates.render(source, context)
            assert str(expected) in str(raised.value)


def test_a_substitution_that_finds_no_value_fails_in_jinjas_words() -> None:
    templates = Templates({"strict": {"a": "A"}})
    with pytest.raises(RenderError, match="has no attribute 'missing'"):
        templates.render("{{ event.missing }}", {"event": {"check": "c"}})
    with pytest.raises(RenderError, match="value 'b' is not in value map 'strict'"):
        templates.render("{{ event.check | lookup('strict') }}", {"event": {"check": "b"}})
    assert templates.render("{{ event.check }}", {"event": {"check": None}}) == "None"


def test_where_keys_all_have_to_hold() -> None:
    assert where_holds(Where(severity=["HIGH"], datastore=["warehouse"]), event())
    assert not where_holds(Where(severity=["critical"]), event())
    assert where_holds(Where(tags=["finance"]), event())
    assert not where_holds(Where(tags=["finance", "hourly"]), event())
    assert where_holds(Where(min_weight=7), event()) and not where_holds(Where(min_weight=7.5), event())
    assert not where_holds(Where(min_weight=1), event(weight=None))


def test_flows_match_by_trigger_type_source_and_where() -> None:
    mappings = Mappings(
        flows=[
            flow("all-anomalies"),
            flow("soda-only", sources=["soda"]),
            flow("status", type_="anomaly_status_change"),
            flow("critical", severity=["critical"]),
        ]
    )
    assert [f.name for f in matching_flows(mappings, event())] == ["all-anomalies"]
    assert [f.name for f in matching_flows(mappings, event(source="soda", severity="critical"))] == [
        "all-anomalies",
        "soda-only",
        "critical",
    ]
    assert [f.name for f in matching_flows(mappings, event(event_type="anomaly_status_change"))] == ["status"]
