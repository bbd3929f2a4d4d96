"""Target kinds by import string (as rq names its default classes), so nothing loads a client early.

Loading mappings imports only a kind's `config` module; its connector (and client library, `jira`
or `pysnow`) is imported the first time a connector of that kind is built. A new tracker is one
package with a `config` and a `connector` module, plus one entry here. A config may define
`status_label(remote) -> str` when the tracker reports statuses as codes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import msgspec

from connectors.base import Connector, FieldValues, InboundAdapter, LiveReport


def load(path: str) -> Any:
    """`package.module:attribute` -> the attribute."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class TargetKind:
    display: str  # what people read: "Jira DQ-12" in chat, "ServiceNow INC0010001" in a source's link-back
    config: str  # "package.module:ConfigStruct"
    builder: str  # "package.module:build", called with the decoded config
    doctor: str = ""  # "package.module:check", `gateway check --live`; "" when the kind has none
    inbound: str = ""  # "package.module:ADAPTER", the tracker's webhook verifier and parser (two-way sync)

    @property
    def config_type(self) -> type[msgspec.Struct]:
        found: type[msgspec.Struct] = load(self.config)
        return found

    def build(self, config: Any) -> Connector:
        connector: Connector = load(self.builder)(config)
        return connector

    def check_live(self, config: Any, values: FieldValues) -> LiveReport | None:
        """Compare the mapping with the live tracker (read-only); None when the kind has no doctor."""
        if not self.doctor:
            return None
        report: LiveReport = load(self.doctor)(config, values)
        return report

    def inbound_adapter(self) -> InboundAdapter | None:
        adapter: InboundAdapter | None = load(self.inbound) if self.inbound else None
        return adapter


KINDS: dict[str, TargetKind] = {
    "local": TargetKind("Gateway", "connectors.local:LocalTarget", "connectors.local:build"),
    "jira": TargetKind(
        "Jira",
        "connectors.jira.config:JiraTarget",
        "connectors.jira.connector:build",
        "connectors.jira.doctor:check",
        "connectors.jira.inbound:ADAPTER",
    ),
    "servicenow": TargetKind(
        "ServiceNow",
        "connectors.servicenow.config:ServiceNowTarget",
        "connectors.servicenow.connector:build",
        "connectors.servicenow.doctor:check",
        "connectors.servicenow.inbound:ADAPTER",
    ),
}
