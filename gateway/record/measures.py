"""Numbers /metrics reads from the counters the database keeps (gateway.record.counters).

Workers are separate processes (on other machines in production) with no HTTP endpoint, so
their counters would need prometheus multiprocess files shared with the web process. The
database's triggers count every outcome and timing as it is written, whoever writes it, and a
scrape reads those counters: its cost does not grow with the mirror. `finished` counts every
time an execution finishes (a failed one retried to success counts once under each).
"""

from __future__ import annotations

from gateway.record.counters import BUCKETS, SEP
from gateway.record.mirror import Mirror

# Per label values: cumulative (bucket bound, count) pairs ending with +Inf, and the sum.
Series = dict[tuple[str, ...], tuple[list[tuple[str, float]], float]]


def counts(mirror: Mirror, name: str) -> dict[tuple[str, ...], float]:
    """A counter's or gauge's values by label values (zeros left out, as an empty group would be)."""
    rows = mirror.connection().execute("SELECT labels, value FROM metric_counts WHERE name = ?", (name,))
    return {tuple(str(labels).split(SEP)): float(value) for labels, value in rows if value}


def finished(mirror: Mirror) -> dict[tuple[str, str, str], int]:
    """Finished executions by action, target and outcome."""
    return {(k[0], k[1], k[2]): int(v) for k, v in counts(mirror, "finished").items()}


def _histogram(mirror: Mirror, name: str) -> Series:
    by_labels: dict[tuple[str, ...], dict[str, float]] = {}
    for key, value in counts(mirror, name).items():
        by_labels.setdefault(key[:-1], {})[key[-1]] = value
    out: Series = {}
    for labels, values in by_labels.items():
        buckets, total = [], 0.0
        for le in [*map(str, BUCKETS), "+Inf"]:  # each row counts its bucket alone: add them up
            total += values.get(le, 0.0)
            buckets.append((le, total))
        if total:
            out[labels] = (buckets, values.get("sum", 0.0))
    return out


def latency(mirror: Mirror) -> Series:
    """Acceptance (the execution recorded with its event) to done, per action and target."""
    return _histogram(mirror, "latency")


def connector_calls(mirror: Mirror) -> Series:
    """Every attempt's call to a tracker or chat, per action and target."""
    return _histogram(mirror, "calls")


def queue_wait(mirror: Mirror) -> Series:
    """Accepted to first picked up by a worker, per action."""
    return _histogram(mirror, "queue_wait")


def latest_answers(mirror: Mirror) -> dict[str, int | None]:
    """Each target's most recent attempt's HTTP status (kept as attempts are written: a few rows)."""
    rows = mirror.connection().execute("SELECT target, http_status FROM target_answers")
    return {str(target): (int(status) if status is not None else None) for target, status in rows}
