"""`gateway check --live`: each target's doctor (read-only calls), its problems printed naming file and field."""

from __future__ import annotations

import sys

from gateway.rules.live import check_target, finding_line
from gateway.rules.schema import Mappings


def check_live(mappings: Mappings, only: str | None) -> int:
    """Each target against its tracker, read-only: problems on stderr (exit 2), else a line per target."""
    if only is not None and only not in mappings.targets:
        print(f"gateway: --target {only}: no such target (known: {', '.join(mappings.targets)})", file=sys.stderr)
        return 2
    problems = 0
    for name in mappings.targets:
        if only is not None and name != only:
            continue
        checked = check_target(mappings, name)
        for found in checked.findings:
            print(f"error: {finding_line(checked, found)}", file=sys.stderr)
        problems += len(checked.findings)
        if checked.summary:
            print(f"  target {name}: {checked.summary}")
    if problems:
        print(f"gateway: {problems} live problem(s)", file=sys.stderr)
        return 2
    return 0
