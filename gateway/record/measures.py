"""Numbers /metrics derives from the execution log at scrape time.

Workers are separate processes (on other machines in production) with no HTTP endpoint, so
their counters would need prometheus multiprocess files shared with the web process. The
execution log already holds every outcome and timing, and it is the truth: read it instead.
A retried execution counts under its latest outcome.
"""

from __future__ import annotations

from gateway.core.models import FINISHED
from gateway.record.mirror import Mirror

# Seconds: tracker calls take tenths, an acceptance-to-done spans retries (minutes to hours).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
_DONE = ", ".join(f"'{status}'" for status in FINISHED)


# Per label values: cumulative (bucket bound, count) pairs ending with +Inf, and the sum.
Series = dict[tuple[str, ...], tuple[list[tuple[str, float]], float]]


def finished(mirror: Mirror) -> dict[tuple[str, str, str], int]:
    """Finished executions by action, target and outcome."""
    rows = mirror.connection().execute(
        f"SELECT action, target, status, count(*) FROM executions WHERE status IN ({_DONE}) GROUP BY 1, 2, 3"
    )
    return {(str(a), str(t), str(s)): int(n) for a, t, s, n in rows}


def _histogram(mirror: Mirror, values: str, labels: int) -> Series:
    """`values` selects `labels` label columns named l0, l1, ... then a value `v` in seconds."""
    counts = ", ".join(f"sum(CASE WHEN v <= {bound} THEN 1 ELSE 0 END)" for bound in BUCKETS)
    keys = ", ".join(f"l{i}" for i in range(labels))
    group = f"GROUP BY {keys}" if labels else ""
    sql = f"SELECT {keys + ', ' if labels else ''}count(*), sum(v), {counts} FROM ({values}) AS measured {group}"
    out: Series = {}
    for row in mirror.connection().execute(sql):
        row = tuple(row)
        total = int(row[labels] or 0)
        if not total:
            continue
        buckets = [(str(bound), float(row[labels + 2 + i] or 0)) for i, bound in enumerate(BUCKETS)]
        out[tuple(str(v) for v in row[:labels])] = ([*buckets, ("+Inf", float(total))], float(row[labels + 1] or 0))
    return out


def latency(mirror: Mirror) -> Series:
    """Acceptance (the execution recorded with its event) to done, per action and target."""
    return _histogram(
        mirror,
        f"SELECT action AS l0, target AS l1, finished_at - created_at AS v FROM executions"
        f" WHERE status IN ({_DONE}) AND finished_at IS NOT NULL",
        2,
    )


def connector_calls(mirror: Mirror) -> Series:
    """Every attempt's call to a tracker or chat, per action and target."""
    return _histogram(
        mirror,
        "SELECT e.action AS l0, e.target AS l1, a.duration_ms / 1000.0 AS v"
        " FROM attempts a JOIN executions e ON e.id = a.execution_id",
        2,
    )


def queue_wait(mirror: Mirror) -> Series:
    """Accepted to first picked up by a worker, per action."""
    return _histogram(
        mirror,
        "SELECT action AS l0, first_attempt_at - created_at AS v FROM executions WHERE first_attempt_at IS NOT NULL",
        1,
    )


def latest_answers(mirror: Mirror) -> dict[str, int | None]:
    """Each target's most recent attempt's HTTP status."""
    rows = mirror.connection().execute(
        "SELECT e.target, a.http_status, a.started_at FROM attempts a JOIN executions e ON e.id = a.execution_id"
        " WHERE a.started_at = (SELECT max(a2.started_at) FROM attempts a2"
        " JOIN executions e2 ON e2.id = a2.execution_id WHERE e2.target = e.target)"
    )
    return {str(target): (int(status) if status is not None else None) for target, status, _ in rows}
