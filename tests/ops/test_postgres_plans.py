"""Statements that name their rows by id or by ticket read them so, whatever PostgreSQL's statistics say.

The statistics of a young table, or of one analyzed before a backlog, call 'queued' rare: an index on
status then costs no more than the id's unique index, and the plan a connection caches read every
queued execution each time (the claim did, once per claim); an index on (target, seq) likewise read
every earlier execution of a target to find one of a ticket's. This builds that state and reads the
cached (generic) plans PostgreSQL makes for the claim and for the lookups the workers make per ticket."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from gateway.record.executions import CLAIM
from gateway.record.mirror import Mirror
from gateway.record.store import Tx
from tests.postgres import PostgresServer


class _Said:
    """A transaction that only notes the statement it is given (its answer: nothing)."""

    def __init__(self) -> None:
        self.sql = ""
        self.rowcount = 0

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> _Said:
        self.sql = sql
        return self

    def fetchone(self) -> None:
        return None


def _statement(call: Callable[[Mirror, Tx], object], mirror: Mirror) -> str:
    said = _Said()
    call(mirror, said)  # type: ignore[arg-type]
    return said.sql


# the per-ticket lookups, with the types of their parameters
LOOKUPS: dict[str, tuple[Callable[[Mirror, Tx], object], str]] = {
    "pending comment": (lambda m, tx: m.pending_comment(tx, 1, "jira", "anomalies"), "bigint, text, text"),
    "pending action": (lambda m, tx: m.pending_action(tx, 1, "jira", "comment"), "bigint, text, text"),
    "queued params": (lambda m, tx: m.set_queued_params(tx, "x", {}), "text, text"),
}


@pytest.fixture(params=[20, 4000], ids=["young table", "before a backlog"])
def backlogged(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> Iterator[Mirror]:
    """4,000 finished executions of one target (statistics taken after `param` of them), then 1,000 queued."""
    mirror = Mirror(postgres_server.create_database())
    conn = mirror.connection()
    columns = "INSERT INTO executions (id, ticket_id, flow, action, target, status, params, created_at)"  # fmt: skip
    finished = "SELECT 'done-' || g, g / 2, 'open', 'comment', 'jira', 'succeeded', '{}', 1 FROM generate_series"
    conn.execute(f"{columns} {finished}(1, {request.param}) g")
    conn.execute("ANALYZE executions")  # the statistics: from when nothing was queued
    conn.execute(f"{columns} {finished}({request.param + 1}, 4000) g")
    conn.execute(f"{columns} SELECT 'queued-' || g, 10000 + g, 'open', 'comment', 'jira', 'queued', '{{}}', 2"
                 " FROM generate_series(1, 1000) g")  # fmt: skip
    conn.execute("SET plan_cache_mode = force_generic_plan")  # the plan a connection caches after five runs
    yield mirror
    mirror.close()


def _plan(mirror: Mirror, sql: str, types: str, args: str) -> str:
    count = iter(range(1, sql.count("?") + 1))
    numbered = re.sub(r"\?", lambda _: f"${next(count)}", sql)
    conn = mirror.connection()
    conn.execute(f"PREPARE statement ({types}) AS {numbered}")
    try:
        return "\n".join(row[0] for row in conn.execute(f"EXPLAIN EXECUTE statement ({args})"))
    finally:
        conn.execute("DEALLOCATE statement")


def test_the_claim_reads_its_row_by_id_and_the_action_it_waits_for_by_ticket(backlogged: Mirror) -> None:
    plan = _plan(backlogged, CLAIM, "float8, float8, float8, text, float8", "3, 4, 3, 'queued-500', 3")

    claimed = plan.split("SubPlan")[0]
    assert _scans(claimed) == ["executions_id_key"], plan
    waits_for = next(part for part in plan.split("SubPlan")[1:] if "executions e" in part)
    assert "using executions_ticket on executions e" in waits_for, plan


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_a_workers_lookup_reads_by_ticket_or_id(backlogged: Mirror, lookup: str) -> None:
    call, types = LOOKUPS[lookup]
    args = ", ".join("NULL" for _ in types.split(","))

    plan = _plan(backlogged, _statement(call, backlogged), types, args)

    assert _scans(plan) and set(_scans(plan)) <= {"executions_ticket", "executions_id_key"}, plan


def _scans(plan: str) -> list[str]:
    """The indexes a plan reads executions through (a sequential scan counts as one more)."""
    indexes = re.findall(r"Scan(?: Backward)? using (\w+) on executions", plan)
    return indexes + re.findall(r"Seq Scan on executions", plan)
