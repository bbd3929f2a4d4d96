"""`great_expectations`: GX's API notification body; each failed expectation is an anomaly."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.core.errors import Unauthorized
from gateway.core.models import Parsed
from gateway.receive.sources import ADAPTERS, Delivery, SourceConfig
from gateway.receive.sources.base import SourceDefaults

ADAPTER = ADAPTERS["great_expectations"]


def test_the_reference_sample_has_no_results(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    parsed = parse("great_expectations", payload("great_expectations"))
    assert parsed.events == []
    assert [i.reason for i in parsed.ignored] == ["great expectations posted no expectation results"]


def test_a_list_of_notifications(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    body = payload("great_expectations_failed")
    raw = json.loads(body)
    parsed = parse("great_expectations", body, source="gx")
    not_null, row_count, pair = parsed.events
    assert parsed.ignored == []

    assert not_null.event_type == "anomaly"
    assert not_null.anomaly_id == "orders_suite:warehouse.public.orders:expect_column_values_to_not_be_null:customer_id"
    assert not_null.correlation_key == "gx:" + not_null.anomaly_id
    assert (not_null.status, not_null.attributes["raw_status"]) == ("Active", "failure")
    assert (not_null.severity, not_null.raw_severity) == ("critical", "critical")
    assert (not_null.container, not_null.field, not_null.check) == (
        "warehouse.public.orders",
        "customer_id",
        "expect_column_values_to_not_be_null",
    )
    assert not_null.title == "expect_column_values_to_not_be_null failed on warehouse.public.orders.customer_id"
    assert not_null.description.splitlines()[0] == "every order has a customer"
    assert not_null.attributes["suite"] == "orders_suite"
    assert not_null.attributes["expectation_id"] == "4f0b2c8e-8a1d-4c3e-9a58-0d1e2f3a4b5c"
    assert not_null.attributes["result"]["unexpected_count"] == 12
    assert not_null.occurred_at == "2026-01-25T12:00:00Z"
    assert not_null.raw == raw[0]["validation_results"][0]

    # a passing expectation resolves its anomaly (ignored at the ingress when nothing was ticketed)
    assert row_count.event_type == "anomaly_status_change"
    assert row_count.anomaly_id == "orders_suite:warehouse.public.orders:expect_table_row_count_to_be_between"
    assert (row_count.status, row_count.field) == ("Resolved", "")

    assert pair.anomaly_id == (
        "customers_suite:warehouse.public.customers:expect_column_pair_values_a_to_be_greater_than_b:updated_at"
    )
    assert (pair.event_type, pair.severity, pair.raw_severity) == ("anomaly", "medium", None)
    assert len({not_null.event_id, row_count.event_id, pair.event_id}) == 3


def test_a_gx_0_object_body(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    config = SourceConfig(kind="great_expectations", defaults=SourceDefaults(severity="high"))
    (event,) = parse("great_expectations", payload("great_expectations_v0"), config).events
    assert event.anomaly_id == "my_suite:my_schema.my_table:expect_column_values_to_be_in_set:status"
    assert (event.event_type, event.status, event.severity) == ("anomaly", "Active", "high")
    assert event.check == "expect_column_values_to_be_in_set"
    assert event.attributes["kwargs"]["value_set"] == ["open", "closed"]


def test_the_same_expectation_failing_again_keeps_its_anomaly_id(
    payload: Callable[[str], bytes], parse: Callable[..., Parsed]
) -> None:
    first = parse("great_expectations", payload("great_expectations_v0")).events[0]
    data = json.loads(payload("great_expectations_v0"))
    data["validation_results"][0]["result"]["unexpected_count"] = 5
    again = parse("great_expectations", data).events[0]
    assert again.anomaly_id == first.anomaly_id
    assert again.event_id != first.event_id


def test_a_whole_suite_result_is_read_too(payload: Callable[[str], bytes], parse: Callable[..., Parsed]) -> None:
    data = json.loads(payload("great_expectations_v0"))
    data["validation_results"] = {"success": False, "results": data["validation_results"], "statistics": {}}
    (event,) = parse("great_expectations", data).events
    assert event.check == "expect_column_values_to_be_in_set"


@pytest.mark.parametrize(("column_kwargs", "field"), [({"column_list": ["a", "b"]}, "a,b"), ({}, "")])
def test_multi_column_and_table_expectations(
    column_kwargs: dict[str, object], field: str, parse: Callable[..., Parsed]
) -> None:
    body = {
        "test_suite_name": "s",
        "data_asset_name": "t",
        "validation_results": [{"success": False, "expectation_config": {"type": "expect_x", "kwargs": column_kwargs}}],
    }
    (event,) = parse("great_expectations", body).events
    assert event.field == field
    assert event.anomaly_id == "s:t:expect_x" + (f":{field}" if field else "")


class TestToken:
    config = SourceConfig(kind="great_expectations", token="gx-token")

    @pytest.mark.parametrize("headers", [{"Authorization": "bearer gx-token"}, {"X-Gateway-Token": "gx-token"}])
    def test_accepts_the_token(self, headers: dict[str, str], delivery: Callable[..., Delivery]) -> None:
        ADAPTER.verify(self.config, delivery(b"[]", headers))

    @pytest.mark.parametrize(
        ("headers", "code"), [({"Authorization": "Bearer nope"}, "bad_signature"), ({}, "missing_signature")]
    )
    def test_refuses_wrong_and_missing(
        self, headers: dict[str, str], code: str, delivery: Callable[..., Delivery]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            ADAPTER.verify(self.config, delivery(b"[]", headers))
        assert caught.value.code == code


def _result(asset: str, success: bool = False, **note: object) -> dict[str, object]:
    return {
        "test_suite_name": "orders_suite",
        "data_asset_name": asset,
        **note,
        "validation_results": [
            {"success": success, "expectation_config": {"type": "expect_not_null", "kwargs": {"column": "id"}}}
        ],
    }


def test_the_stock_actions_batch_id_loses_its_partition(parse: Callable[..., Parsed]) -> None:
    """GX's APINotificationAction sends the batch id, "{datasource}-{asset}-{key}_{value}..."."""
    january = parse("great_expectations", [_result("warehouse-orders-year_2026-month_01")]).events[0]
    february = parse("great_expectations", [_result("warehouse-orders-year_2026-month_02", True)]).events[0]
    assert january.anomaly_id == february.anomaly_id == "orders_suite:warehouse-orders:expect_not_null:id"
    assert january.container == "warehouse-orders"
    assert january.attributes["batch"] == "warehouse-orders-year_2026-month_01"
    whole = parse("great_expectations", [_result("shop-raw_orders")]).events[0]  # no partition to strip
    assert whole.container == "shop-raw_orders"
    many = parse("great_expectations", [_result("warehouse-orders" + "-part_x" * 5000)]).events[0]
    assert many.container == "warehouse-orders"  # split once, however many parts


def test_gateway_action_bodies_name_the_asset_and_an_anomaly_id_template_chooses_the_identity(
    parse: Callable[..., Parsed],
) -> None:
    body = [
        _result(
            "orders",
            datasource_name="warehouse",
            batch_id="warehouse-orders-year_2026-month_01",
            batch_parameters={"year": "2026", "month": "01"},
        )
    ]
    (event,) = parse("great_expectations", body).events
    assert (event.anomaly_id, event.container) == ("orders_suite:orders:expect_not_null:id", "orders")
    assert event.attributes["partition"] == {"year": "2026", "month": "01"}
    config = SourceConfig(kind="great_expectations", anomaly_id="{datasource}/{batch}/{expectation}/{column}")
    (per_batch,) = parse("great_expectations", body, config).events
    assert per_batch.anomaly_id == "warehouse/warehouse-orders-year_2026-month_01/expect_not_null/id"


def _between(success: bool, low: int) -> dict[str, object]:
    kwargs = {"column": "amount", "min_value": low}
    return {"success": success, "expectation_config": {"type": "expect_column_values_to_be_between", "kwargs": kwargs}}


@pytest.mark.parametrize("order", ["pass first", "fail first"])
def test_a_failure_sharing_its_anomaly_id_with_a_pass_is_the_event(order: str, parse: Callable[..., Parsed]) -> None:
    """Both results are `s:orders:expect_column_values_to_be_between:amount`: the pass listed first took the event
    id and the failure was dropped as its duplicate, so no ticket opened for a failing expectation."""
    results = [_between(True, 0), _between(False, 10)]
    if order == "fail first":
        results.reverse()
    body = {"test_suite_name": "s", "data_asset_name": "orders", "validation_results": results}
    [event] = parse("great_expectations", body).events
    assert (event.event_type, event.status) == ("anomaly", "Active")
    assert event.attributes["kwargs"]["min_value"] == 10
