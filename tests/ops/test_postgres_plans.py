"""The claim finds its row by id, and the action it waits for by ticket, whatever PostgreSQL's statistics say.

The statistics of a young table, or of one analyzed before a backlog, call 'queued' rare: an index on
status then costs no more than the id's unique index, and the plan a connection caches for the claim read
every queued execution (and, for the action to wait for, every earlier execution of the target) on each
claim. This builds that state and reads the cached (generic) plan PostgreSQL would use."""

from __future__ import annotations

import re

import pytest

from gateway.record.executions import CLAIM
from gateway.record.mirror import Mirror
from tests.postgres import PostgresServer


def _numbered(sql: str) -> str:
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


@pytest.mark.parametrize("analyzed_at", [20, 4000], ids=["young table", "before a backlog"])
def test_the_claims_cached_plan_reads_by_id_and_ticket(postgres_server: PostgresServer, analyzed_at: int) -> None:
    mirror = Mirror(postgres_server.create_database())
    conn = mirror.connection()
    columns = "INSERT INTO executions (id, ticket_id, flow, action, target, status, params, created_at)"  # fmt: skip
    finished = "SELECT 'done-' || g, g / 2, 'open', 'create_ticket', 'jira', 'succeeded', '{}', 1 FROM generate_series"
    conn.execute(f"{columns} {finished}(1, {analyzed_at}) g")
    conn.execute("ANALYZE executions")  # the statistics: from when nothing was queued
    conn.execute(f"{columns} {finished}({analyzed_at + 1}, 4000) g")
    conn.execute(f"{columns} SELECT 'queued-' || g, 10000 + g, 'open', 'create_ticket', 'jira', 'queued', '{{}}', 2"
                 " FROM generate_series(1, 1000) g")  # fmt: skip
    conn.execute("COMMIT")
    conn.execute("SET plan_cache_mode = force_generic_plan")  # the plan a connection caches after five claims
    conn.execute(f"PREPARE claim (float8, float8, float8, text, float8) AS {_numbered(CLAIM)}")

    plan = "\n".join(row[0] for row in conn.execute("EXPLAIN EXECUTE claim (3, 4, 3, 'queued-500', 3)"))
    conn.execute("ROLLBACK")

    claimed = plan.split("SubPlan")[0]
    assert "executions_id_key" in claimed and "status" not in claimed.split("Index Cond")[-1].split("\n")[0], plan
    waits_for = next(part for part in plan.split("SubPlan")[1:] if "executions e" in part)
    assert "using executions_ticket on executions e" in waits_for, plan
    mirror.close()
