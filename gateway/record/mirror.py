"""The mirror: tickets, links, timeline, events and executions in SQL (SQLite by default).

The database is the source of truth and the outbox: the ingress writes an event, its ticket
and its executions in one transaction; workers claim executions with a compare-and-set and a
lease, so a lost or doubled RQ job is harmless. Each table family has its own module.
"""

from __future__ import annotations

from gateway.core.models import UNFINISHED
from gateway.record.anomalies import Anomalies
from gateway.record.events import Events
from gateway.record.executions import Executions
from gateway.record.migrations import _MIGRATIONS, SCHEMA_VERSION
from gateway.record.retention import Retention
from gateway.record.sla import SlaTimers
from gateway.record.store import new_id, now
from gateway.record.sync import Sync
from gateway.record.tickets import Tickets

__all__ = ["SCHEMA_VERSION", "UNFINISHED", "_MIGRATIONS", "Mirror", "new_id", "now"]


class Mirror(Events, Tickets, Executions, Anomalies, SlaTimers, Retention, Sync):
    """The whole mirror, as the web process and the workers use it."""
