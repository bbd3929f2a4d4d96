"""The claim reads an execution's attempts, event, link and the action it waits for by index on SQLite.

In an UPDATE's RETURNING, SQLite gives the updated row's columns no type, so `a.execution_id =
executions.id` could not use an index: every claim scanned all attempts (and events), a cost that grew
with the log. The claim casts each one; this checks the plan SQLite makes for it. The action it waits for
is looked up by ticket alone (a ticket's few executions): its target and status are kept out of index
choice for PostgreSQL's sake (tests/ops/test_postgres_plans.py)."""

from __future__ import annotations

from pathlib import Path

from gateway.record.executions import CLAIM
from gateway.record.mirror import Mirror


def test_the_claim_scans_no_table(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "gw.db")
    plan = [row[3] for row in mirror.connection().execute("EXPLAIN QUERY PLAN " + CLAIM, (1.0, 2.0, 1.0, "x", 1.0))]

    assert [step for step in plan if step.startswith("SCAN")] == []
    searched = " | ".join(plan)
    for index in ("attempts_1 (execution_id=?)", "executions_ticket (ticket_id=?)",
                  "events_1 (id=?)", "links_1 (ticket_id=? AND target=?)"):  # fmt: skip
        assert index in searched
