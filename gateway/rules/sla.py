"""SLA targets per priority: how long a ticket may wait for a response and for its resolution."""

from __future__ import annotations

import re

import msgspec

PRIORITIES = ("Critical", "High", "Medium", "Low")


def parse_duration(text: str) -> float:
    """'24h', '90m', '30s', '2d' -> seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not found:
        raise ValueError(f"{text!r} is not a duration such as 24h, 90m or 30s")
    value, unit = float(found.group(1)), found.group(2) or "s"
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


class SlaTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`{response: 5m, resolution: 2h}`."""

    response: str
    resolution: str

    def seconds(self) -> tuple[float, float]:
        return parse_duration(self.response), parse_duration(self.resolution)


# the ITIL-style ticketing plugin's defaults
DEFAULT_SLA: dict[str, SlaTarget] = {
    "Critical": SlaTarget(response="5m", resolution="2h"),
    "High": SlaTarget(response="30m", resolution="8h"),
    "Medium": SlaTarget(response="2h", resolution="1d"),
    "Low": SlaTarget(response="1d", resolution="5d"),
}


def sla_problems(table: dict[str, SlaTarget]) -> list[tuple[str, str]]:
    """(field, problem) for each priority that is not one, or duration that does not parse."""
    problems: list[tuple[str, str]] = []
    for priority, target in table.items():
        if priority not in PRIORITIES:
            problems.append((priority, f"{priority!r} is not a priority; priorities: {', '.join(PRIORITIES)}"))
            continue
        for name in ("response", "resolution"):
            try:
                parse_duration(getattr(target, name))
            except ValueError as exc:
                problems.append((f"{priority}.{name}", str(exc)))
    return problems


def sla_seconds(
    priority: str, defaults: dict[str, SlaTarget], override: dict[str, SlaTarget] | None = None
) -> tuple[float, float] | None:
    """(response, resolution) seconds for a ticket of this priority: the flow's, else the lifecycle's."""
    target = (override or {}).get(priority) or defaults.get(priority)
    return target.seconds() if target is not None else None
