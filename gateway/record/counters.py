"""What /metrics reads: counters the database keeps itself, so a scrape costs the same at 100k tickets.

Triggers on executions, attempts, tickets and events keep `metric_counts` current on every write path,
from every process (web nodes, workers, retention), but for the inserts of events, tickets and
executions: those have one place each (gateway.record), which counts them in its transaction and adds
them once per label at commit (`Store.count`, version 17). A trigger per inserted row was a tenth of the
ingress writer's CPU on SQLite and a third of PostgreSQL's server CPU per delivery.

Gauges (executions by status, tickets by state, events by source and type, breached SLA timers), the
finished-executions counter and three histograms. A scrape reads
a few hundred rows instead of grouping whole tables. SQLite and PostgreSQL get the same trigger
bodies; PostgreSQL wraps each in a plpgsql function. A histogram row counts the observations of its
bucket alone (the reader adds them up): one row written per observation, not one per bucket above it
(that fan-out was a third of PostgreSQL's CPU per tracker action, and hot rows every worker waited on).
"""

from __future__ import annotations

from collections.abc import Iterable

# Seconds: tracker calls take tenths, an acceptance-to-done spans retries (minutes to hours).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
SEP = "\t"  # between label values in `labels` (names, states and actions hold no tab)
_DONE = "('succeeded', 'failed', 'skipped')"
_INF = 1e308
_SUM = "'sum'"


def _labels(*parts: str) -> str:
    return f" || '{SEP}' || ".join(parts)


def _add(name: str, labels: str, value: str = "1") -> str:
    return (
        f"INSERT INTO metric_counts (name, labels, value) VALUES ('{name}', {labels}, {value})"
        " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value"
    )


def _smallest_bucket(seconds: str) -> str:
    return f"b.bound = (SELECT min(bound) FROM metric_buckets WHERE ({seconds}) <= bound)"


def _observe(name: str, labels: str, seconds: str) -> list[str]:
    """One observation of a histogram: +1 in the one bucket it falls in, the sum."""
    return [
        f"INSERT INTO metric_counts (name, labels, value) SELECT '{name}', {_labels(labels, 'b.le')}, 1"
        f" FROM metric_buckets b WHERE {_smallest_bucket(seconds)}"
        " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value",
        _add(name, _labels(labels, "'sum'"), f"coalesce({seconds}, 0)"),
    ]


def _breached(timer: str, event: str) -> str:
    """+1 when a timer's breach is set, -1 when it is cleared (a reopened ticket) or its row goes."""
    now = f"(CASE WHEN NEW.{timer}_breached_at IS NOT NULL THEN 1 ELSE 0 END)"
    before = f"(CASE WHEN OLD.{timer}_breached_at IS NOT NULL THEN 1 ELSE 0 END)"
    return {"AFTER INSERT": now, "AFTER UPDATE": f"{now} - {before}", "AFTER DELETE": f"-{before}"}[event]


_EXECUTION = _labels("NEW.status", "NEW.action", "NEW.target")
_OLD_EXECUTION = _labels("OLD.status", "OLD.action", "OLD.target")
# trigger name -> (event and condition, body statements)
TRIGGERS: dict[str, tuple[str, str, list[str]]] = {
    "metrics_executions_insert": ("AFTER INSERT ON executions", "", [_add("executions", _EXECUTION)]),
    "metrics_executions_status": (
        "AFTER UPDATE OF status ON executions",
        "OLD.status <> NEW.status",
        [_add("executions", _OLD_EXECUTION, "-1"), _add("executions", _EXECUTION)],
    ),
    "metrics_executions_finished": (
        "AFTER UPDATE OF status ON executions",
        f"OLD.status <> NEW.status AND NEW.status IN {_DONE} AND NEW.finished_at IS NOT NULL",
        [
            _add("finished", _labels("NEW.action", "NEW.target", "NEW.status")),
            *_observe("latency", _labels("NEW.action", "NEW.target"), "NEW.finished_at - NEW.created_at"),
        ],
    ),
    "metrics_executions_picked": (
        "AFTER UPDATE OF first_attempt_at ON executions",
        "OLD.first_attempt_at IS NULL AND NEW.first_attempt_at IS NOT NULL",
        _observe("queue_wait", "NEW.action", "NEW.first_attempt_at - NEW.created_at"),
    ),
    "metrics_executions_delete": ("AFTER DELETE ON executions", "", [_add("executions", _OLD_EXECUTION, "-1")]),
    "metrics_attempts_insert": (
        "AFTER INSERT ON attempts",
        "",
        [
            "INSERT INTO metric_counts (name, labels, value)"
            f" SELECT 'calls', {_labels('e.action', 'e.target', 'b.le')}, 1 FROM executions e, metric_buckets b"
            f" WHERE e.id = NEW.execution_id AND {_smallest_bucket('NEW.duration_ms / 1000.0')}"
            " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value",
            "INSERT INTO metric_counts (name, labels, value)"
            f" SELECT 'calls', {_labels('e.action', 'e.target', _SUM)}, NEW.duration_ms / 1000.0"
            " FROM executions e WHERE e.id = NEW.execution_id"
            " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value",
        ],
    ),
    **{
        f"metrics_sla_{event.split()[1].lower()}": (
            f"{event} ON sla_timers",
            "",
            [_add("sla", f"'{timer}'", _breached(timer, event)) for timer in ("response", "resolution")],
        )
        for event in ("AFTER INSERT", "AFTER UPDATE", "AFTER DELETE")
    },
    "metrics_tickets_insert": ("AFTER INSERT ON tickets", "", [_add("tickets", "NEW.state")]),
    "metrics_tickets_state": (
        "AFTER UPDATE OF state ON tickets",
        "OLD.state <> NEW.state",
        [_add("tickets", "OLD.state", "-1"), _add("tickets", "NEW.state")],
    ),
    "metrics_tickets_delete": ("AFTER DELETE ON tickets", "", [_add("tickets", "OLD.state", "-1")]),
    "metrics_events_insert": ("AFTER INSERT ON events", "", [_add("events", _labels("NEW.source", "NEW.event_type"))]),
    "metrics_events_delete": (
        "AFTER DELETE ON events",
        "",
        [_add("events", _labels("OLD.source", "OLD.event_type"), "-1")],
    ),
}


# the insert triggers that version 17 drops: `Store.count` adds what they did, once per label a transaction
COUNTED_ON_INSERT = {
    "metrics_events_insert": "events",
    "metrics_tickets_insert": "tickets",
    "metrics_executions_insert": "executions",
}


def event_labels(source: str, event_type: str) -> str:
    return SEP.join((source, event_type))


def execution_labels(status: str, action: str, target: str) -> str:
    return SEP.join((status, action, target))


def add_counts(rows: int) -> str:
    """One statement adding `rows` (name, labels, value) rows to the counters (each pair once: PostgreSQL
    refuses a statement that updates one row twice)."""
    values = ", ".join(["(?, ?, ?)"] * rows)
    return (
        f"INSERT INTO metric_counts (name, labels, value) VALUES {values}"
        " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value"
    )


def counted_inserts(postgres: bool) -> list[str]:
    """Version 17: inserts count themselves at commit (`Store.count`); their triggers go."""
    if postgres:
        return [
            statement
            for name, table in COUNTED_ON_INSERT.items()
            for statement in (f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()")
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in COUNTED_ON_INSERT]


def _backfill() -> list[str]:
    """What the tables already hold when the counters start (a database of an earlier release)."""
    merge = " ON CONFLICT (name, labels) DO UPDATE SET value = metric_counts.value + excluded.value"
    statements = [
        f"INSERT INTO metric_counts (name, labels, value) SELECT 'executions', {_labels('status', 'action', 'target')},"
        " count(*) FROM executions GROUP BY status, action, target",
        "INSERT INTO metric_counts (name, labels, value) SELECT 'tickets', state, count(*) FROM tickets GROUP BY state",
        f"INSERT INTO metric_counts (name, labels, value) SELECT 'events', {_labels('source', 'event_type')}, count(*)"
        " FROM events GROUP BY source, event_type",
        "INSERT INTO metric_counts (name, labels, value) SELECT 'sla', 'response', count(response_breached_at)"
        " FROM sla_timers",
        "INSERT INTO metric_counts (name, labels, value) SELECT 'sla', 'resolution', count(resolution_breached_at)"
        " FROM sla_timers",
        f"INSERT INTO metric_counts (name, labels, value) SELECT 'finished', {_labels('action', 'target', 'status')},"
        f" count(*) FROM executions WHERE status IN {_DONE} GROUP BY action, target, status",
    ]
    histograms = (
        ("latency", _labels("x.action", "x.target"), "x.finished_at - x.created_at", "executions x",
         f"x.status IN {_DONE} AND x.finished_at IS NOT NULL"),
        ("queue_wait", "x.action", "x.first_attempt_at - x.created_at", "executions x",
         "x.first_attempt_at IS NOT NULL"),
        ("calls", _labels("x.action", "x.target"), "a.duration_ms / 1000.0",
         "attempts a JOIN executions x ON x.id = a.execution_id", "1 = 1"),
    )  # fmt: skip
    for name, labels, value, tables, where in histograms:
        statements.append(
            f"INSERT INTO metric_counts (name, labels, value) SELECT '{name}', {_labels(labels, 'b.le')}, count(*)"
            f" FROM {tables}, metric_buckets b WHERE {where} AND {value} <= b.bound GROUP BY {labels}, b.le" + merge
        )
        statements.append(
            f"INSERT INTO metric_counts (name, labels, value) SELECT '{name}', {_labels(labels, _SUM)},"
            f" sum({value}) FROM {tables} WHERE {where} GROUP BY {labels}" + merge
        )
    return statements


HISTOGRAMS = ("latency", "queue_wait", "calls")
_REBUCKETED = ("metrics_executions_finished", "metrics_executions_picked", "metrics_attempts_insert")


def per_bucket(postgres: bool) -> list[str]:
    """Version 12: histogram rows from cumulative (every bucket at or above) to per bucket, and the
    three triggers that observe rewritten to write one bucket."""
    names = ", ".join(f"'{name}'" for name in HISTOGRAMS)
    statements = [
        # each bucket row less the row of the bucket below it (same name and labels but the last)
        "CREATE TABLE metric_rebucket AS SELECT m.name, m.labels, m.value - coalesce((SELECT q.value"
        " FROM metric_counts q WHERE q.name = m.name"
        " AND q.labels = substr(m.labels, 1, length(m.labels) - length(b.le)) || p.le), 0) AS value"
        " FROM metric_counts m JOIN metric_buckets b"
        f" ON substr(m.labels, length(m.labels) - length(b.le)) = '{SEP}' || b.le"
        " LEFT JOIN metric_buckets p ON p.bound = (SELECT max(bound) FROM metric_buckets WHERE bound < b.bound)"
        f" WHERE m.name IN ({names})",
        "UPDATE metric_counts SET value = (SELECT r.value FROM metric_rebucket r"
        " WHERE r.name = metric_counts.name AND r.labels = metric_counts.labels)"
        " WHERE EXISTS (SELECT 1 FROM metric_rebucket r WHERE r.name = metric_counts.name"
        " AND r.labels = metric_counts.labels)",
        "DROP TABLE metric_rebucket",
    ]
    for name in _REBUCKETED:
        when, condition, body = TRIGGERS[name]
        table = when.split(" ON ")[1]
        if postgres:
            statements += [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
        else:
            statements.append(f"DROP TRIGGER {name}")
        statements += _trigger(name, when, condition, body, postgres)
    return statements


def migration(postgres: bool) -> list[str]:
    """The tables, the triggers in this database's dialect, and the backfill."""
    real = "DOUBLE PRECISION" if postgres else "REAL"
    statements = [
        f"CREATE TABLE metric_counts (name TEXT NOT NULL, labels TEXT NOT NULL, value {real} NOT NULL,"
        " PRIMARY KEY (name, labels))",
        f"CREATE TABLE metric_buckets (le TEXT PRIMARY KEY, bound {real} NOT NULL)",
        "INSERT INTO metric_buckets (le, bound) VALUES "
        + ", ".join(f"('{bound}', {bound})" for bound in BUCKETS)
        + f", ('+Inf', {_INF})",
    ]
    for name, (when, condition, body) in TRIGGERS.items():
        statements += _trigger(name, when, condition, body, postgres)
    return statements + _backfill()


def _trigger(name: str, when: str, condition: str, body: Iterable[str], postgres: bool) -> list[str]:
    if not postgres:
        where = f" WHEN {condition}" if condition else ""
        return [f"CREATE TRIGGER {name} {when} FOR EACH ROW{where} BEGIN {'; '.join(body)}; END"]
    where = f" WHEN ({condition})" if condition else ""
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {'; '.join(body)}; RETURN NULL; END $$",
        f"CREATE TRIGGER {name} {when} FOR EACH ROW{where} EXECUTE FUNCTION {name}()",
    ]
