"""The live check of one target (read-only calls to its tracker), shared by `gateway check --live` and
the console's mappings page."""

from __future__ import annotations

import msgspec

from connectors.base import Finding
from connectors.registry import KINDS
from gateway.rules.coverage import field_values
from gateway.rules.schema import Mappings


class TargetCheck(msgspec.Struct, kw_only=True):
    """What the tracker said of one target's mapping: its findings, or a one-line summary."""

    target: str
    kind: str
    file: str
    findings: list[Finding] = msgspec.field(default_factory=list)
    summary: str = ""
    answered: bool = True  # False: the check did not finish (the console's time bound) or broke


def check_target(mappings: Mappings, name: str) -> TargetCheck:
    """Blocking (HTTP to the tracker, each call bounded by the target's `timeout`)."""
    target = mappings.targets[name]
    file = mappings.origins.get(name, "mappings")
    report = KINDS[target.kind].check_live(target.config, field_values(mappings, name))
    if report is None:
        return TargetCheck(target=name, kind=target.kind, file=file, summary=f"{target.kind} has no live check")
    summary = "" if report.findings else f"live ok: {report.summary}"
    return TargetCheck(target=name, kind=target.kind, file=file, findings=list(report.findings), summary=summary)


def finding_line(check: TargetCheck, found: Finding) -> str:
    """One problem as `gateway check --live` prints it: file, target, field, value given, problem, offers."""
    offers = f"; {check.kind} offers: {found.offers}" if found.offers else ""
    return f"{check.file}: targets.{check.target}: field {found.field}: {found.given!r}: {found.problem}{offers}"
