"""A real GX 1.x checkpoint with GatewayAction, against `gateway serve` and the tracker emulators."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCAL_MAPPINGS, Trackers
from tests.e2e.conftest import Served

GX_TOKEN = "gx-t0ken-for-tests"

# GX is in the test extra; a missing install must fail loudly, not skip.
assert importlib.util.find_spec("great_expectations") is not None, "pip install -e '.[test]' installs GX"


@pytest.fixture
def gx(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")  # nothing leaves the machine
    import great_expectations

    yield great_expectations


def gx_mappings(
    trackers: Trackers, source: str = 'gx: {kind: great_expectations, token: "${GX_TOKEN}"}'
) -> dict[str, str]:
    files = trackers.mappings()
    files["sources.yaml"] = f"sources:\n  {source}\n"
    files["flows.yaml"] = (
        LOCAL_MAPPINGS["flows.yaml"]
        .replace("source: [qualytics, generic]", "source: [gx]")
        .replace("targets: [mirror]", "targets: [jira, snow]")
        .replace('"{{ event.check }} failed on {{ event.container }}"', '"{{ event.title }}"')
    )
    return files


def checkpoint(gx: Any, served: Served, definition: Any, name: str) -> Any:
    from gateway.integrations.great_expectations import GatewayAction

    context = definition.data_asset.datasource.data_context
    suite = context.suites.add(gx.ExpectationSuite(name="orders_suite"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column="customer_id", severity="critical", meta={"notes": "every order has a customer"}
        )
    )
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=definition, suite=suite))
    action = GatewayAction(name="gateway", url=f"{served.url}/v1/webhooks/gx", token=GX_TOKEN)
    return context.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=[validation], actions=[action]))


def only_ticket(served: Served) -> dict[str, Any]:
    [ticket] = served.get("/v1/tickets")["tickets"]
    return served.get(f"/v1/tickets/{ticket['number']}")  # type: ignore[no-any-return]


def settled(served: Served) -> bool:
    executions = served.get("/v1/executions")["executions"]
    return bool(executions) and all(e["status"] == "succeeded" for e in executions)


def test_a_failing_dataframe_opens_tickets_and_the_fixed_data_resolves_them(
    gx: Any, serve: Callable[..., Served], trackers: Trackers
) -> None:
    import pandas as pd

    served = serve(gx_mappings(trackers), GX_TOKEN=GX_TOKEN)
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("shop").add_dataframe_asset("orders")
    run = checkpoint(gx, served, asset.add_batch_definition_whole_dataframe("all"), "orders")

    failed = run.run(batch_parameters={"dataframe": pd.DataFrame({"customer_id": [1, None, 3, None]})})
    assert failed.success is False
    served.wait_for(lambda: settled(served) and len(only_ticket(served)["links"]) == 2)
    ticket = only_ticket(served)
    assert ticket["state"] == "New"
    assert ticket["fields"]["short_description"] == "expect_column_values_to_not_be_null failed on orders.customer_id"
    assert "every order has a customer" in ticket["fields"]["description"]
    assert "2 of 4 rows unexpected (50.0%)" in ticket["fields"]["description"]
    [issue] = trackers.issues()
    assert issue["fields"]["summary"] == ticket["fields"]["short_description"]
    [incident] = trackers.incidents()
    assert incident["short_description"] == ticket["fields"]["short_description"]

    fixed = run.run(batch_parameters={"dataframe": pd.DataFrame({"customer_id": [1, 2, 3, 4]})})
    assert fixed.success is True
    served.wait_for(lambda: settled(served) and only_ticket(served)["state"] == "Resolved")
    remote = {link["target"]: link["remote_status"] for link in only_ticket(served)["links"]}
    assert remote == {"jira": "Done", "snow": "6"}  # ServiceNow state 6 is Resolved


def write_month(directory: Path, month: str, customers: list[float | None]) -> None:
    import pandas as pd

    pd.DataFrame({"customer_id": customers}).to_csv(directory / f"orders_2026-{month}.csv", index=False)


def test_february_passing_resolves_januarys_ticket_of_a_partitioned_asset(
    gx: Any, serve: Callable[..., Served], trackers: Trackers, tmp_path: Path
) -> None:
    served = serve(gx_mappings(trackers), GX_TOKEN=GX_TOKEN)
    data = tmp_path / "data"
    data.mkdir()
    write_month(data, "01", [1, None])
    write_month(data, "02", [1, 2])
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas_filesystem("warehouse", base_directory=data).add_csv_asset("orders")
    monthly = asset.add_batch_definition_monthly("monthly", regex=r"orders_(?P<year>\d{4})-(?P<month>\d{2})\.csv")
    run = checkpoint(gx, served, monthly, "monthly")

    assert run.run(batch_parameters={"year": 2026, "month": 1}).success is False
    served.wait_for(lambda: settled(served) and len(only_ticket(served)["links"]) == 2)
    january = only_ticket(served)
    assert january["fields"]["short_description"] == "expect_column_values_to_not_be_null failed on orders.customer_id"
    assert "batch warehouse-orders-year_2026-month_01" in january["fields"]["description"]

    assert run.run(batch_parameters={"year": 2026, "month": 2}).success is True
    served.wait_for(lambda: settled(served) and only_ticket(served)["state"] == "Resolved")
    assert only_ticket(served)["number"] == january["number"]


def test_a_per_partition_identity_keeps_months_apart_and_a_wrong_token_fails_the_checkpoint(
    gx: Any, serve: Callable[..., Served], trackers: Trackers, tmp_path: Path
) -> None:
    source = (
        'gx: {kind: great_expectations, token: "${GX_TOKEN}", anomaly_id: "{suite}:{batch}:{expectation}:{column}"}'
    )
    served = serve(gx_mappings(trackers, source), GX_TOKEN=GX_TOKEN)
    data = tmp_path / "data"
    data.mkdir()
    write_month(data, "01", [1, None])
    write_month(data, "02", [None, 2])
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas_filesystem("warehouse", base_directory=data).add_csv_asset("orders")
    monthly = asset.add_batch_definition_monthly("monthly", regex=r"orders_(?P<year>\d{4})-(?P<month>\d{2})\.csv")
    run = checkpoint(gx, served, monthly, "monthly")
    run.run(batch_parameters={"year": 2026, "month": 1})
    result = run.run(batch_parameters={"year": 2026, "month": 2})
    served.wait_for(lambda: settled(served) and len(served.get("/v1/tickets")["tickets"]) == 2)

    from gateway.integrations.great_expectations import GatewayAction

    wrong = GatewayAction(name="gateway", url=f"{served.url}/v1/webhooks/gx", token="wrong")
    with pytest.raises(RuntimeError, match="HTTP 401"):
        wrong.run(result)
