"""Every tool's payload through the HTTP ingress with its own auth, to tickets and back (issue 6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, Harness, MakeHarness, payload

SECRETS = {
    "soda": "soda-t0ken",
    "monte_carlo": "mc-s3cret",
    "great_expectations": "gx-t0ken",
    "alertmanager": "am-t0ken",
    "dbt_cloud": "dbt-s3cret",
}
SOURCES = f"""
sources:
  qualytics: {{kind: qualytics, secret: "{QUALYTICS_SECRET}"}}
  soda: {{kind: soda, token: "{SECRETS["soda"]}"}}
  monte_carlo: {{kind: monte_carlo, secret: "{SECRETS["monte_carlo"]}"}}
  great_expectations: {{kind: great_expectations, token: "{SECRETS["great_expectations"]}"}}
  alertmanager: {{kind: alertmanager, token: "{SECRETS["alertmanager"]}", basic: {{user: am, password: am-pw}}}}
  dbt_cloud: {{kind: dbt_cloud, secret: "{SECRETS["dbt_cloud"]}"}}
"""
FLOWS = (
    LOCAL_MAPPINGS["flows.yaml"]
    .replace("    source: [qualytics, generic]\n", "")
    .replace("where: {severity: [critical, high, medium]}", "where: {}")
)
FILES = {"sources.yaml": SOURCES, "targets.yaml": LOCAL_MAPPINGS["targets.yaml"], "flows.yaml": FLOWS}


def auth(kind: str, body: bytes) -> dict[str, str]:
    """Each tool's own way of proving itself."""
    if kind == "qualytics":
        return {"x-qualytics-secret": QUALYTICS_SECRET}
    if kind == "monte_carlo":
        return {"x-mcd-signature": hmac.new(SECRETS[kind].encode(), body, hashlib.sha512).hexdigest()}
    if kind == "dbt_cloud":
        return {"authorization": hmac.new(SECRETS[kind].encode(), body, hashlib.sha256).hexdigest()}
    if kind == "great_expectations":
        return {"x-gateway-token": SECRETS[kind]}
    return {"authorization": f"Bearer {SECRETS[kind]}"}


@pytest.fixture
def gateway(make_gateway: MakeHarness) -> Harness:
    return make_gateway(FILES)


def send(gateway: Harness, kind: str, name: str, headers: dict[str, str] | None = None) -> Any:
    body = payload(name)
    return gateway.post(kind, body, headers=headers if headers is not None else auth(kind, body))


def events_recorded(gateway: Harness) -> list[tuple[str, str]]:
    rows = gateway.runtime.mirror.connection().execute("SELECT event_type, ignored_reason FROM events ORDER BY rowid")
    return [(r[0], r[1]) for r in rows]


SAMPLES = [
    ("qualytics", "qualytics.json", 1),
    ("soda", "soda_cloud.json", 1),
    ("soda", "soda_cloud_check_evaluation.json", 2),
    ("monte_carlo", "monte_carlo_incident.json", 1),
    ("monte_carlo", "monte_carlo_anomaly.json", 1),
    ("great_expectations", "great_expectations_failed.json", 2),
    ("great_expectations", "great_expectations_v0.json", 1),
    ("alertmanager", "alertmanager_firing.json", 2),
    ("alertmanager", "alertmanager_jiralert_test_firing.json", 1),
    ("dbt_cloud", "dbt_cloud_job_run_errored.json", 1),
]


@pytest.mark.parametrize(("kind", "name", "tickets"), SAMPLES, ids=[s[1] for s in SAMPLES])
def test_each_sample_becomes_its_tickets(gateway: Harness, kind: str, name: str, tickets: int) -> None:
    response = send(gateway, kind, name)
    assert response.status_code == 202, response.text
    gateway.drain()
    found = gateway.tickets()
    assert len(found) == tickets
    assert all(t["source"] == kind and t["correlation_key"].startswith(f"{kind}:") for t in found)
    assert all(t["fields"]["short_description"] for t in found)
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}


@pytest.mark.parametrize(
    "kind", ["qualytics", "soda", "monte_carlo", "great_expectations", "alertmanager", "dbt_cloud"]
)
@pytest.mark.parametrize("forgery", ["missing", "wrong"])
def test_each_auth_scheme_refuses_a_forged_delivery(gateway: Harness, kind: str, forgery: str) -> None:
    name = next(s[1] for s in SAMPLES if s[0] == kind)
    headers = {} if forgery == "missing" else {k: "0" * len(v) for k, v in auth(kind, payload(name)).items()}
    if kind == "qualytics" and forgery == "missing":
        headers = {"x-qualytics-secret": ""}
    response = send(gateway, kind, name, headers)
    assert response.status_code == 401
    assert response.json()["error"] in ("missing_signature", "bad_signature")
    assert events_recorded(gateway) == []


def test_alertmanager_basic_auth_as_http_config_sends_it(gateway: Harness) -> None:
    good = "Basic " + base64.b64encode(b"am:am-pw").decode()
    bad = "Basic " + base64.b64encode(b"am:guess").decode()
    assert send(gateway, "alertmanager", "alertmanager_firing.json", {"authorization": good}).status_code == 202
    assert send(gateway, "alertmanager", "alertmanager_resolved.json", {"authorization": bad}).status_code == 401


def test_alertmanager_from_firing_to_resolved(gateway: Harness) -> None:
    send(gateway, "alertmanager", "alertmanager_firing.json")
    gateway.drain()
    assert sorted(t["state"] for t in gateway.tickets()) == ["New", "New"]
    # Alertmanager re-sends the whole group unchanged: duplicates, not recurrences.
    again = send(gateway, "alertmanager", "alertmanager_firing.json")
    assert again.json()["duplicate"] is True and again.json()["executions"] == []
    resolved = send(gateway, "alertmanager", "alertmanager_resolved.json").json()
    assert len(resolved["event_ids"]) == 2
    gateway.drain()
    states = {t["correlation_key"]: (t["state"], t["occurrences"]) for t in gateway.tickets()}
    assert states == {"alertmanager:c3cd7761207ac6cc": ("Resolved", 1), "alertmanager:793a95c1e0f11459": ("New", 1)}


def test_soda_incident_lifecycle(gateway: Harness) -> None:
    send(gateway, "soda", "soda_cloud.json")
    send(gateway, "soda", "soda_cloud_updated.json")
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "In Progress"
    assert ticket["fields"]["priority"] == "High"  # Soda's "major"
    send(gateway, "soda", "soda_cloud_resolved.json")
    gateway.drain()
    assert gateway.ticket(ticket["number"])["state"] == "Resolved"


def test_soda_validate_ping_answers_200_and_changes_nothing(gateway: Harness) -> None:
    response = send(gateway, "soda", "soda_cloud_validate.json")
    assert response.status_code == 200
    assert response.json()["ignored"] == [{"reason": "validate ping", "event_id": None}]
    assert events_recorded(gateway) == []


def test_an_irrelevant_event_type_is_recorded_and_ignored(gateway: Harness) -> None:
    response = send(gateway, "dbt_cloud", "dbt_cloud_job_run_started.json")
    assert response.status_code == 202
    [ignored] = response.json()["ignored"]
    assert "not ticketed" in ignored["reason"] and ignored["event_id"]
    assert events_recorded(gateway) == [("ignored", ignored["reason"])]
    assert gateway.executions() == []


def test_dbt_errored_twice_is_one_event_and_a_success_resolves(gateway: Harness) -> None:
    first = send(gateway, "dbt_cloud", "dbt_cloud_job_run_errored.json").json()
    second = send(gateway, "dbt_cloud", "dbt_cloud_job_run_completed_errored.json").json()
    assert second["duplicate"] is True and second["event_ids"] == first["event_ids"]
    send(gateway, "dbt_cloud", "dbt_cloud_job_run_completed_success.json")
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "Resolved"


def test_a_passing_check_without_a_ticket_is_recorded_and_ignored(gateway: Harness) -> None:
    response = send(gateway, "great_expectations", "great_expectations_failed.json").json()
    assert sum(1 for i in response["ignored"] if i["reason"].startswith("no ticket exists")) == 1
    gateway.drain()
    assert len(gateway.tickets()) == 2
    assert {e["action"] for e in gateway.executions()} == {"create_ticket"}


def test_monte_carlo_fixed_resolves_the_incident_ticket(gateway: Harness) -> None:
    send(gateway, "monte_carlo", "monte_carlo_anomaly.json")
    send(gateway, "monte_carlo", "monte_carlo_status_fixed.json")
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["state"] == "Resolved"


# -- preview ----------------------------------------------------------------------------------


def test_preview_shows_events_flows_and_fields_without_side_effects(gateway: Harness) -> None:
    response = gateway.client.post("/v1/preview/great_expectations", content=payload("great_expectations_failed.json"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["events"]) == 3
    flows = sorted((m["flow"], m["actions"][0]["action"]) for m in result["matches"])
    assert flows == [
        ("follow-anomaly-status", "update_ticket_status"),
        ("open-dq-ticket", "create_ticket"),
        ("open-dq-ticket", "create_ticket"),
    ]
    create = next(m for m in result["matches"] if m["flow"] == "open-dq-ticket")
    fields = create["actions"][0]["targets"]["mirror"]["fields"]
    assert fields["priority"] == "Critical" and fields["urgency"] == "High"
    assert events_recorded(gateway) == [] and gateway.executions() == []
    assert gateway.dispatcher.queue.count == 0


def test_preview_names_the_error_a_mapping_would_hit(make_gateway: MakeHarness) -> None:
    flows = FLOWS.replace(
        "severity_to_priority: {critical: Critical, high: High, medium: Medium, low: Low, info: Low}",
        "severity_to_priority: {critical: Critical}",
    )
    gateway = make_gateway({**FILES, "flows.yaml": flows})
    result = gateway.client.post("/v1/preview/qualytics", content=payload("qualytics.json")).json()
    target = result["matches"][0]["actions"][0]["targets"]["mirror"]
    assert target == {
        "error": "render: priority: value 'medium' is not in value map 'severity_to_priority', "
        "and the map has no default"
    }
    # The same delivery for real fails its execution with that reason, and is retryable after a fix.
    gateway.post("qualytics", payload("qualytics.json"))
    [failed] = gateway.executions(status="failed")
    assert "not in value map 'severity_to_priority'" in failed["error"]
    assert gateway.tickets() == []  # nothing half-written
    gateway.reload(FILES)
    assert gateway.client.post(f"/v1/executions/{failed['id']}/retry").status_code == 202
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["fields"]["priority"] == "Medium"
    assert gateway.execution(failed["id"])["status"] == "succeeded"


def test_preview_says_where_a_flows_webhook_would_go(make_gateway: MakeHarness) -> None:
    hook = '      - webhook: {url: "https://hooks.example/dq/{{ ticket.number }}", method: PUT, secret: s3cret-hook}\n'
    flows = FLOWS.replace("          assigned_to: \"\"\n", "          assigned_to: \"\"\n" + hook, 1)
    gateway = make_gateway({**FILES, "flows.yaml": flows})
    response = gateway.client.post("/v1/preview/qualytics", content=payload("qualytics.json"))
    assert response.status_code == 200, response.text
    actions = response.json()["matches"][0]["actions"]
    assert [a["action"] for a in actions] == ["create_ticket", "webhook"]
    where = {"method": "PUT", "url": "https://hooks.example", "signed": True}
    assert actions[1]["targets"] == {"webhook": {"fields": where}}
    assert "s3cret-hook" not in response.text


def test_preview_refuses_bad_input_like_the_ingress(gateway: Harness) -> None:
    assert gateway.client.post("/v1/preview/qualytics", content=b"{").json()["error"] == "malformed_json"
    assert gateway.client.post("/v1/preview/nope", content=b"{}").status_code == 404


def test_gateway_preview_cli(gateway: Harness, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.run.cli",
            "--mappings",
            str(gateway.settings.mappings),
            "preview",
            "--source",
            "alertmanager",
            str(Path(__file__).parents[1] / "data/payloads/alertmanager_firing.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        },
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert [e["anomaly_id"] for e in output["events"]] == ["c3cd7761207ac6cc", "793a95c1e0f11459"]
    assert len(output["matches"]) == 2


ALL_SAMPLES = sorted(path.name for path in (Path(__file__).parents[1] / "data/payloads").glob("*.json"))
KIND_OF = {
    "qualytics": "qualytics",
    "soda": "soda",
    "monte": "monte_carlo",
    "great": "great_expectations",
    "alertmanager": "alertmanager",
    "dbt": "dbt_cloud",
}


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_every_sample_previews_as_it_would_run(gateway: Harness, name: str) -> None:
    kind = next(k for prefix, k in KIND_OF.items() if name.startswith(prefix))
    preview = gateway.client.post(f"/v1/preview/{kind}", content=payload(name))
    assert preview.status_code == 200, preview.text
    result = preview.json()
    assert all(event["source"] == kind for event in result["events"])
    created = [m for m in result["matches"] if m["flow"] == "open-dq-ticket"]
    assert len(created) == sum(1 for e in result["events"] if e["event_type"] == "anomaly")
    assert all("fields" in m["actions"][0]["targets"]["mirror"] for m in created)
    assert gateway.executions() == []  # a preview records nothing
    response = send(gateway, kind, name)  # and the real delivery agrees with it
    assert response.status_code in (200, 202)
    assert len(response.json()["event_ids"]) == len(result["events"])


BLANK_IDS = [
    ("qualytics", "qualytics.json", ("context", "anomalies", 0, "id")),
    ("soda", "soda_cloud.json", ("incident", "id")),
    ("monte_carlo", "monte_carlo_incident.json", ("payload", "incident_id")),
]


@pytest.mark.parametrize(("kind", "name", "where"), BLANK_IDS, ids=[b[0] for b in BLANK_IDS])
def test_an_anomaly_with_a_blank_id_is_refused_and_records_nothing(
    gateway: Harness, kind: str, name: str, where: tuple[Any, ...]
) -> None:
    for blank in ("", "  "):
        data = json.loads(payload(name))
        node = data
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = blank
        body = json.dumps(data).encode()
        refused = gateway.post(kind, body, headers=auth(kind, body))
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "invalid_payload" and "anomaly id" in refused.json()["detail"]
        preview = gateway.client.post(f"/v1/preview/{kind}", content=body)
        assert preview.status_code == 422 and preview.json()["error"] == "invalid_payload", preview.text
        assert gateway.tickets() == [] and gateway.executions() == [] and events_recorded(gateway) == []


def test_an_empty_batch_is_answered_202_and_recorded_as_ignored(gateway: Harness) -> None:
    body = json.dumps({"event": "checkEvaluation", "checkResults": []}).encode()
    response = gateway.post("soda", body, headers=auth("soda", body))
    assert response.status_code == 202
    [ignored] = response.json()["ignored"]
    assert ignored["reason"] == "soda checkEvaluation carries no check results" and ignored["event_id"]
    assert events_recorded(gateway) == [("ignored", "soda checkEvaluation carries no check results")]


def test_a_gx_failure_listed_after_a_pass_of_the_same_anomaly_opens_its_ticket(gateway: Harness) -> None:
    def between(success: bool, low: int) -> dict[str, Any]:
        config = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": low}}
        return {"success": success, "expectation_config": config, "result": {}}

    results = [between(True, 0), between(False, 10)]
    note = {"test_suite_name": "s", "data_asset_name": "orders", "validation_results": results}
    body = json.dumps([note]).encode()
    assert gateway.post("great_expectations", body, headers=auth("great_expectations", body)).status_code == 202
    gateway.drain()
    [ticket] = gateway.tickets()
    assert ticket["correlation_key"] == "great_expectations:s:orders:expect_column_values_to_be_between:amount"
