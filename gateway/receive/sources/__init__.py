"""Source adapters by kind: raw delivery -> canonical events."""

from __future__ import annotations

from gateway.receive.sources import (
    alertmanager,
    dbt_cloud,
    generic,
    great_expectations,
    monte_carlo,
    qualytics,
    soda,
)
from gateway.receive.sources.base import Delivery, SourceAdapter, SourceConfig

ADAPTERS: dict[str, SourceAdapter] = {
    adapter.kind: adapter
    for adapter in (
        generic.ADAPTER,
        qualytics.ADAPTER,
        soda.ADAPTER,
        monte_carlo.ADAPTER,
        great_expectations.ADAPTER,
        alertmanager.ADAPTER,
        dbt_cloud.ADAPTER,
    )
}

__all__ = ["ADAPTERS", "Delivery", "SourceAdapter", "SourceConfig"]
