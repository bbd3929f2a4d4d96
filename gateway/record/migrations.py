"""The mirror's schema, version by version; `Store.migrate` applies what a database lacks.

Plain SQL that both SQLite and PostgreSQL accept (the store maps types for PostgreSQL), except the
metric counters' triggers, whose statements each dialect gets from `counters.migration`.
"""

from __future__ import annotations

from gateway.record import counters

SCHEMA_VERSION = 18
MIGRATION_LOCK = 72_630_012  # the advisory lock ten nodes starting at once queue on

_MIGRATIONS: dict[int, str] = {  # SQL statements separated by ;
    1: """
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  source_event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  anomaly_id TEXT NOT NULL,
  correlation_key TEXT NOT NULL,
  received_at REAL NOT NULL,
  ticket_id INTEGER,
  ignored_reason TEXT,
  payload TEXT NOT NULL,
  UNIQUE (source, source_event_id)
);
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  correlation_key TEXT NOT NULL,
  generation INTEGER NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  fields TEXT NOT NULL,
  targets TEXT NOT NULL,
  anomaly_ids TEXT NOT NULL,
  occurrences INTEGER NOT NULL DEFAULT 1,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  resolved_at REAL,
  UNIQUE (correlation_key, generation)
);
CREATE TABLE links (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  target TEXT NOT NULL,
  external_id TEXT NOT NULL,
  external_key TEXT NOT NULL,
  url TEXT NOT NULL,
  remote_status TEXT NOT NULL,
  remote_priority TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (ticket_id, target)
);
CREATE TABLE timeline (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  at REAL NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT,
  ticket_id INTEGER,
  flow TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  params TEXT NOT NULL,
  result TEXT,
  error TEXT,
  error_kind TEXT,
  created_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  first_attempt_at REAL,
  lease_until REAL,
  next_attempt_at REAL,
  enqueued_at REAL
);
CREATE INDEX executions_status ON executions (status, next_attempt_at);
CREATE INDEX executions_ticket ON executions (ticket_id, target, seq);
CREATE TABLE attempts (
  execution_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  started_at REAL NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  error_kind TEXT,
  http_status INTEGER,
  message TEXT,
  PRIMARY KEY (execution_id, number)
);
""",
    # attempts before a retry from the log do not count against the retried run's budget
    2: "ALTER TABLE executions ADD COLUMN attempts_base INTEGER NOT NULL DEFAULT 0",
    # the anomalies of a ticket; `active` is 1 while the anomaly belongs to it and NULL once moved or
    # unlinked, so unique(source, anomaly_id, active) holds one open ticket per anomaly (NULLs never clash)
    3: """
CREATE TABLE ticket_anomalies (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  source TEXT NOT NULL,
  anomaly_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  active INTEGER CHECK (active = 1),
  first_seen REAL NOT NULL,
  last_seen REAL NOT NULL,
  PRIMARY KEY (ticket_id, source, anomaly_id),
  UNIQUE (source, anomaly_id, active)
);
ALTER TABLE tickets ADD COLUMN resolve_when TEXT;
INSERT INTO ticket_anomalies (ticket_id, source, anomaly_id, active, first_seen, last_seen)
SELECT id, source, substr(correlation_key, length(source) + 2),
  CASE WHEN generation = (SELECT max(g.generation) FROM tickets g WHERE g.correlation_key = t.correlation_key)
  THEN 1 END, created_at, updated_at
FROM tickets t WHERE correlation_key LIKE source || ':%'
""",
    # SLA timers, one row per ticket: due times move when the resolution timer pauses (On Hold) or restarts
    4: """
CREATE TABLE sla_timers (
  ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
  response_s REAL NOT NULL,
  resolution_s REAL NOT NULL,
  response_due_at REAL NOT NULL,
  response_stopped_at REAL,
  response_breached_at REAL,
  resolution_due_at REAL NOT NULL,
  resolution_stopped_at REAL,
  resolution_paused_at REAL,
  resolution_breached_at REAL
);
CREATE INDEX sla_timers_due ON sla_timers (resolution_due_at, response_due_at)
""",
    # the timeline by ticket: the history export reads it a batch of tickets at a time
    5: "CREATE INDEX timeline_ticket ON timeline (ticket_id, id)",
    # who opened a ticket by hand (API, chat, console); empty for tickets a tool's anomaly opened
    6: "ALTER TABLE tickets ADD COLUMN requester TEXT NOT NULL DEFAULT ''",
    # the filters and orders of the list views, and what retention prunes by
    7: """
CREATE INDEX executions_status_seq ON executions (status, seq);
CREATE INDEX executions_target_seq ON executions (target, seq);
CREATE INDEX executions_flow_seq ON executions (flow, seq);
CREATE INDEX executions_event ON executions (event_id);
CREATE INDEX executions_finished ON executions (finished_at);
CREATE INDEX tickets_state ON tickets (lower(state), id);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_ticket ON events (ticket_id)
""",
    # two-way sync: drift flag, per-field tracker clocks on links, delivery dedupe, poll cursors
    8: """
ALTER TABLE tickets ADD COLUMN drift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN sync_clock TEXT NOT NULL DEFAULT '{}';
CREATE INDEX links_external ON links (target, external_id);
CREATE TABLE tracker_deliveries (
  target TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  received_at REAL NOT NULL,
  PRIMARY KEY (target, delivery_id)
);
CREATE TABLE sync_cursors (
  target TEXT PRIMARY KEY,
  polled_until TEXT NOT NULL DEFAULT '',
  polled_at REAL,
  reconciled_at REAL
);
""",
    # when each target's operators were last told of a problem ("auth"): once per target per hour
    9: "CREATE TABLE target_notices (target TEXT, kind TEXT, notified_at REAL NOT NULL, PRIMARY KEY (target, kind))",
    # the console's and the API's most common pair of filters, without scanning one filter's matches
    11: "CREATE INDEX executions_status_target_seq ON executions (status, target, seq)",
    # reconcile reads watched links a batch a pass, resuming after the last ticket it read
    13: "ALTER TABLE sync_cursors ADD COLUMN reconciled_after INTEGER NOT NULL DEFAULT 0",
    # leases that expired in a row with no run concluding: a run that kills its worker is not re-run forever
    14: "ALTER TABLE executions ADD COLUMN lease_expiries INTEGER NOT NULL DEFAULT 0",
    # console sessions signed out before they expire (gateway.record.console_sessions)
    15: "CREATE TABLE console_signouts (session TEXT PRIMARY KEY, expires REAL NOT NULL)",
    # console forms already submitted, by their one-time token's digest (gateway.record.console_sessions)
    16: "CREATE TABLE console_submissions (form TEXT PRIMARY KEY, at REAL NOT NULL)",
    # each target's latest attempt (`Executions.record_attempt`), which /readyz judges credentials by:
    # finding it among all attempts cost /readyz a second at 1,000 attempts and minutes at 16,000
    18: """
CREATE TABLE target_answers (target TEXT PRIMARY KEY, http_status INTEGER, started_at REAL NOT NULL);
INSERT INTO target_answers (target, http_status, started_at)
SELECT target, http_status, started_at FROM (
  SELECT e.target, a.http_status, a.started_at,
         row_number() OVER (PARTITION BY e.target ORDER BY a.started_at DESC, a.execution_id DESC) AS n
  FROM attempts a JOIN executions e ON e.id = a.execution_id
) latest WHERE n = 1
""",
}

# versions whose statements differ by dialect
_BY_DIALECT = {10: counters.migration, 12: counters.per_bucket, 17: counters.counted_inserts}


def statements(version: int, postgres: bool) -> list[str]:
    if version in _BY_DIALECT:
        return _BY_DIALECT[version](postgres)
    return [statement for statement in _MIGRATIONS[version].split(";") if statement.strip()]
