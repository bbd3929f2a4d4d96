"""Target kinds: the config Struct each kind's YAML decodes into, and how to build its connector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from connectors import jira, local, servicenow
from connectors.base import Connector


@dataclass(frozen=True)
class TargetKind:
    config_type: type[msgspec.Struct]
    build: Callable[[Any], Connector]


KINDS: dict[str, TargetKind] = {
    "local": TargetKind(local.LocalTarget, local.build),
    "jira": TargetKind(jira.JiraTarget, jira.build),
    "servicenow": TargetKind(servicenow.ServiceNowTarget, servicenow.build),
}
