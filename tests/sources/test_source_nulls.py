"""A `null` in an optional field is the field not given, for every kind, through the HTTP ingress.

Tools send `"description": null` (Soda, dbt Cloud, Monte Carlo) where a value is missing: each of these was
refused with a 422 'Expected `str`, got `null`' and no ticket opened. A required field sent as `null` is still
a 422 that names it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import LOCAL_MAPPINGS, PAYLOADS, Harness, MakeHarness

TOKEN = "nulls-t0ken"
SOURCES = f"""
sources:
  qualytics: {{kind: qualytics, allow_unauthenticated: true}}
  soda: {{kind: soda, token: "{TOKEN}"}}
  monte_carlo: {{kind: monte_carlo, allow_unauthenticated: true}}
  great_expectations: {{kind: great_expectations, token: "{TOKEN}"}}
  alertmanager: {{kind: alertmanager, token: "{TOKEN}"}}
  dbt_cloud: {{kind: dbt_cloud, allow_unauthenticated: true}}
  generic: {{kind: generic, token: "{TOKEN}", defaults: {{severity: high}}}}
"""
FLOWS = (
    LOCAL_MAPPINGS["flows.yaml"]
    .replace("    source: [qualytics, generic]\n", "")
    .replace("where: {severity: [critical, high, medium]}", "where: {}")
)
FILES = {"sources.yaml": SOURCES, "targets.yaml": LOCAL_MAPPINGS["targets.yaml"], "flows.yaml": FLOWS}


@pytest.fixture
def gateway(make_gateway: MakeHarness) -> Harness:
    return make_gateway(FILES)


def sample(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def post(gateway: Harness, source: str, body: Any) -> Any:
    return gateway.post(source, body, headers={"authorization": f"Bearer {TOKEN}"})


def events(gateway: Harness) -> list[dict[str, Any]]:
    rows = gateway.runtime.mirror.connection().execute("SELECT payload FROM events ORDER BY received_at, id")
    return [json.loads(row[0]) for row in rows]


def accepted(gateway: Harness, source: str, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Posted, answered 202 and drained: the one event recorded and the one ticket it opened."""
    response = post(gateway, source, body)
    assert response.status_code == 202, response.text
    gateway.drain()
    [event] = [e for e in events(gateway) if e.get("event_type") == "anomaly"]
    [ticket] = gateway.tickets()
    assert {e["status"] for e in gateway.executions()} == {"succeeded"}
    return event, ticket["fields"]


def test_qualytics_anomaly_with_null_description_place_url_and_tags(gateway: Harness) -> None:
    data = sample("qualytics")
    data["datastore"]["name"] = None
    data["flow"] = None
    data["context"]["anomalies"][0].update(description=None, field=None, url=None, tags=None, severity=None)
    data["context"]["quality_checks"][0]["status"] = None
    event, fields = accepted(gateway, "qualytics", data)
    assert (event["title"], event["description"], event["field"], event["tags"]) == ("unexpected_value", "", "", [])
    assert (event["datastore"], event["url"]) == ("", "https://demo.qualytics.io/...")  # the flow's target_link
    assert event["severity"] == "medium"
    assert fields["short_description"] == "Amount Range Check failed on orders"


def test_soda_incident_with_null_title_description_and_people(gateway: Harness) -> None:
    data = sample("soda_cloud")
    data["incident"].update(
        title=None, description=None, lead=None, reporter=None, links=None, checkResults=None, resolutionNotes=None
    )
    event, fields = accepted(gateway, "soda", data)
    assert (event["title"], event["description"]) == ("Soda incident #196", "")
    assert event["attributes"]["links"] == [] and event["attributes"]["lead"] is None
    assert fields["description"] == "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6"


def test_soda_check_with_null_name_column_url_and_dataset_labels(gateway: Harness) -> None:
    data = sample("soda_cloud_check_evaluation")
    data["checkResults"] = data["checkResults"][:1]
    data["checkResults"][0].update(name=None, column=None, sodaCloudUrl=None)
    data["checkResults"][0]["datasets"][0].update(label=None, tags=None)
    data["checkResults"][0]["datasets"][0]["datasource"]["name"] = None
    event, fields = accepted(gateway, "soda", data)
    assert event["title"].startswith("Soda check fail: checks for SODATEST_Customers_6f90f4ad")
    assert (event["url"], event["field"], event["tags"], event["datastore"]) == ("", "", [], "sodaspark")
    assert fields["short_description"].endswith("failed on bnm_orders")


def test_monte_carlo_alert_with_null_url_rule_and_owner(gateway: Harness) -> None:
    data = sample("monte_carlo_anomaly")
    data.update(version=None, owner=None, alert_feedback=None)
    data["payload"].update(url=None, group_id=None, rule=None, owner=None)
    event, fields = accepted(gateway, "monte_carlo", data)
    assert (event["title"], event["container"], event["url"]) == ("Has 42 rows vs. 101 expected", "artemis", "")
    assert fields["short_description"] == "open_anomaly_incident failed on artemis"


def test_great_expectations_result_with_null_meta_and_partition(gateway: Harness) -> None:
    [data] = sample("great_expectations_failed")[1:]
    data.update(datasource_name=None, batch_id=None, batch_parameters=None, run_time=None)
    data["validation_results"][0]["expectation_config"].update(meta=None, severity=None, id=None)
    event, fields = accepted(gateway, "great_expectations", data)
    assert event["anomaly_id"] == (
        "customers_suite:warehouse.public.customers:expect_column_pair_values_a_to_be_greater_than_b:updated_at"
    )
    assert event["description"].startswith("3 of 500 rows unexpected.")
    assert fields["short_description"] == (
        "expect_column_pair_values_a_to_be_greater_than_b failed on warehouse.public.customers"
    )


def test_a_null_list_of_great_expectations_results_is_no_results(gateway: Harness) -> None:
    response = post(gateway, "great_expectations", {"test_suite_name": "s", "validation_results": None})
    assert response.status_code == 202, response.text
    assert [i["reason"] for i in response.json()["ignored"]] == ["great expectations posted no expectation results"]


def test_alertmanager_alert_with_null_annotations_and_group_fields(gateway: Harness) -> None:
    data = sample("alertmanager_firing")
    data["alerts"] = data["alerts"][:1]
    data["alerts"][0].update(annotations={"summary": None, "description": None}, generatorURL=None)
    data.update(externalURL=None, groupLabels=None, commonLabels=None, truncatedAlerts=None)
    event, fields = accepted(gateway, "alertmanager", data)
    assert (event["title"], event["description"], event["url"]) == ("OrdersRowCountLow", "", "")
    assert fields["short_description"] == "OrdersRowCountLow failed on orders"


def test_dbt_cloud_run_with_null_names_and_messages(gateway: Harness) -> None:
    data = sample("dbt_cloud_job_run_errored")
    data.update(eventId=None, webhookName=None)
    data["data"].update(jobName=None, runStatusMessage=None, dbtVersion=None, runReason=None)
    event, fields = accepted(gateway, "dbt_cloud", data)
    assert (event["title"], event["description"]) == ("dbt Cloud job 123 errored in dbt Vault Demo", "")
    assert (event["check"], fields["short_description"]) == ("", "failed on dbt Vault Demo")  # no job name


def test_generic_event_with_null_text_fields_takes_the_source_default_severity(gateway: Harness) -> None:
    body = {"event_type": "anomaly", "anomaly_id": "orders-rows", "check": "row count", "container": "orders"}
    body.update(dict.fromkeys(("event_id", "title", "description", "url", "tags", "attributes", "severity")))
    event, fields = accepted(gateway, "generic", body)
    assert (event["title"], event["description"], event["url"], event["tags"]) == ("", "", "", [])
    assert event["severity"] == "high"  # the source's default, as when severity is left out
    assert (fields["short_description"], fields["priority"]) == ("row count failed on orders", "High")


REQUIRED_NULLS: list[tuple[str, Any, str]] = [
    ("qualytics", ("qualytics", ("context", "anomalies", 0, "id")), "`id` is null"),
    ("soda", ("soda_cloud", ("incident", "id")), "`id` is null"),
    ("soda", ("soda_cloud", ("event",)), "`event` is null"),
    ("monte_carlo", ("monte_carlo_anomaly", ("payload", "incident_id")), "`incident_id` is null"),
    ("great_expectations", ("great_expectations", ("test_suite_name",)), "`test_suite_name` is null"),
    ("alertmanager", ("alertmanager_firing", ("alerts",)), "`alerts` is null"),
    ("dbt_cloud", ("dbt_cloud_job_run_errored", ("data", "runId")), "`runId` is null"),
]


@pytest.mark.parametrize(
    ("source", "where", "named"), REQUIRED_NULLS, ids=[f"{s}-{w[1][-1]}" for s, w, _ in REQUIRED_NULLS]
)
def test_a_required_field_sent_as_null_is_a_422_naming_it(
    gateway: Harness, source: str, where: tuple[str, tuple[Any, ...]], named: str
) -> None:
    name, path = where
    data = sample(name)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = None
    response = post(gateway, source, data)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_payload"
    assert f"Required field {named}" in response.json()["detail"]
    assert events(gateway) == []


@pytest.mark.parametrize("field", ["anomaly_id", "event_type"])
def test_a_generic_event_s_identity_sent_as_null_is_a_422_naming_it(gateway: Harness, field: str) -> None:
    body: dict[str, Any] = {"event_type": "anomaly", "anomaly_id": "a1", field: None}
    response = post(gateway, "generic", body)
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid_payload",
        "detail": f"event: Required field `{field}` is null (expected `str`) - at `$.{field}`",
    }
    assert events(gateway) == []
