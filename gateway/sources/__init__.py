"""Source adapters by kind: raw delivery -> canonical events."""

from __future__ import annotations

from gateway.sources import generic, qualytics
from gateway.sources.base import Delivery, SourceAdapter, SourceConfig

ADAPTERS: dict[str, SourceAdapter] = {a.kind: a for a in (generic.ADAPTER, qualytics.ADAPTER)}

__all__ = ["ADAPTERS", "Delivery", "SourceAdapter", "SourceConfig"]
