"""`gateway check --live`: each target's doctor (read-only calls), its problems printed naming file and field."""

from __future__ import annotations

import sys

from connectors.registry import KINDS
from gateway.rules.coverage import field_values
from gateway.rules.schema import Mappings


def check_live(mappings: Mappings, only: str | None) -> int:
    """Each target against its tracker, read-only: problems on stderr (exit 2), else a line per target."""
    if only is not None and only not in mappings.targets:
        print(f"gateway: --target {only}: no such target (known: {', '.join(mappings.targets)})", file=sys.stderr)
        return 2
    problems = 0
    for name, target in mappings.targets.items():
        if only is not None and name != only:
            continue
        report = KINDS[target.kind].check_live(target.config, field_values(mappings, name))
        if report is None:
            print(f"  target {name}: {target.kind} has no live check")
            continue
        for found in report.findings:
            offers = f"; {target.kind} offers: {found.offers}" if found.offers else ""
            print(
                f"error: {mappings.origins.get(name, 'mappings')}: targets.{name}: field {found.field}:"
                f" {found.given!r}: {found.problem}{offers}",
                file=sys.stderr,
            )
        problems += len(report.findings)
        if not report.findings:
            print(f"  target {name}: live ok: {report.summary}")
    if problems:
        print(f"gateway: {problems} live problem(s)", file=sys.stderr)
        return 2
    return 0
