"""What a handler gets to do its work: the mirror, a connector call under the retry policy, the attempt log.

Handlers end an execution early by raising `Done`; the runner concludes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from connectors.base import Connector, RemoteTicket
from connectors.registry import KINDS
from gateway.core.models import Event
from gateway.core.outbound import ConnectorError, ErrorKind, PermanentError, RetryableError, unexpected
from gateway.core.retry_config import RetryConfig
from gateway.execute.retry import Budget, GiveUp, Reschedule, call_with_retry
from gateway.record.rows import Claim, ExecutionRow, LinkRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.store import Tx

T = TypeVar("T")
WAIT_STEP = 0.5  # how soon an execution waiting on an earlier one looks again (at first: `wait_step`)
WAIT_STEP_MAX = 30.0  # and at the latest, however long it has waited


class Done(Exception):
    """Finish the execution now with this status and message (skipped, or waiting)."""

    def __init__(
        self, status: str, message: str = "", retry_in: float | None = None, error_kind: ErrorKind | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_in = retry_in
        self.error_kind = error_kind  # set when a connector error ends or delays the execution


def wait_step(execution: ExecutionRow) -> float:
    """How soon a ticket action waiting for an earlier one looks again: a quarter of how long it has waited
    (since its first claim), within WAIT_STEP..WAIT_STEP_MAX. Looking every WAIT_STEP all through an earlier
    action's long backoff cost a claim and a requeue twice a second; this adds at most a quarter to the wait."""
    now = time.time()
    waited = now - (execution.first_attempt_at or now)
    return min(max(WAIT_STEP, waited / 4), WAIT_STEP_MAX)


def remote_ticket(link: LinkRow) -> RemoteTicket:
    """The tracker's ticket a mirror link points at, as connectors take it."""
    return RemoteTicket(
        external_id=link.external_id,
        external_key=link.external_key,
        url=link.url,
        remote_status=link.remote_status,
        remote_priority=link.remote_priority,
    )


class _Connectors(threading.local):
    """Per thread (a requests session is not shared across threads): target name -> (its config, connector)."""

    def __init__(self) -> None:
        self.built: dict[str, tuple[object, Connector]] = {}


_CONNECTORS = _Connectors()


def _connector(target: str, kind: str, config: object) -> Connector:
    """One client per target per worker: its keep-alive connection, server info and caches last across
    jobs. New mappings (another config object) get a new client."""
    found = _CONNECTORS.built.get(target)
    if found is not None and found[0] is config:
        return found[1]
    if found is not None:
        found[1].close()
    connector = KINDS[kind].build(config)
    _CONNECTORS.built[target] = (config, connector)
    return connector


class Context:
    """One worker's view of the gateway while it runs one claimed execution."""

    def __init__(self, runtime: Runtime, sleep: Callable[[float], None]) -> None:
        self.rt = runtime
        self.mirror = runtime.mirror
        self.sleep = sleep
        self.redactor = runtime.redactor()
        self._succeeded: dict[str, Any] | None = None  # a successful attempt, written with the finish
        self._sent_with: dict[str, Any] | None = None  # that attempt, once given to the finish's transaction
        self.attempts = 0  # the execution's attempts in the log: the claim counted them, this run adds its own
        self._events: dict[str, Event | None] = {}  # the events read this run
        self._claimed_event: tuple[str, str] | None = None  # the claim's event id and JSON, decoded when asked
        self._claimed_ticket: TicketRow | None = None  # the claim's read of its ticket, used once
        self.has_link = True  # the claim's answer: the ticket is linked at the target (True: look)
        self.result: dict[str, object] | None = None  # what a succeeded execution recorded (the log line)
        self.waits_for: str | None = None  # the claim's answer: an earlier action this one waits for
        self.auth_noticed = False  # the claim's answer: the channels were told its target refused the credentials

    def claimed(self, claim: Claim) -> ExecutionRow:
        """Keep what the claim read beside the row (its attempts so far, an earlier action to wait for,
        its event, whether its ticket is linked at its target)."""
        self.attempts = claim.attempts_logged
        self.waits_for = claim.waits_for
        self.has_link = claim.has_link
        self.auth_noticed = claim.auth_noticed
        event_id = claim.execution.event_id
        self._claimed_event = (event_id, claim.event_payload) if event_id and claim.event_payload else None
        self._claimed_ticket = claim.ticket
        return claim.execution

    def flush_attempt(self, tx: Tx | None = None) -> None:
        """Write the successful attempt held back (in `tx`: the transaction that finishes the execution)."""
        if self._succeeded is not None:
            attempt, self._succeeded = self._succeeded, None
            self._record_attempt(tx=tx, **attempt)
            self._sent_with = attempt if tx is not None else None

    def unsend_attempt(self) -> None:
        """The finish's transaction did not commit: the successful attempt it held is still to be written."""
        if self._sent_with is not None:
            self._succeeded, self._sent_with = self._sent_with, None
            self.attempts -= 1

    def _record_attempt(self, execution_id: str, tx: Tx | None = None, **attempt: Any) -> None:
        self.mirror.record_attempt(execution_id, tx=tx, **attempt)
        self.attempts += 1

    def ticket_id(self, execution: ExecutionRow) -> int:
        if execution.ticket_id is None:
            raise Done("failed", execution.error or "the execution has no ticket")
        return execution.ticket_id

    def ticket(self, execution: ExecutionRow) -> TicketRow:
        """The execution's ticket: as the claim read it, unless the execution has another now (re-planned)."""
        claimed, self._claimed_ticket = self._claimed_ticket, None
        if claimed is not None and claimed.id == execution.ticket_id:
            return claimed
        ticket = self.mirror.ticket(execution.ticket_id) if execution.ticket_id else None
        if ticket is None:
            raise Done("failed", execution.error or "the execution has no ticket")
        return ticket

    def event(self, execution: ExecutionRow) -> Event | None:
        """The execution's event (read once a run: templates, callbacks and notices all want it)."""
        if not execution.event_id:
            return None
        event_id = execution.event_id
        if event_id not in self._events:
            if self._claimed_event is not None and self._claimed_event[0] == event_id:
                self._events[event_id] = msgspec.convert(msgspec.json.decode(self._claimed_event[1]), Event)
            else:
                stored = self.mirror.get_event(event_id)
                self._events[event_id] = msgspec.convert(stored.payload, Event) if stored else None
        return self._events[event_id]

    def event_context(self, execution: ExecutionRow) -> dict[str, Any]:
        event = self.event(execution)
        return event.template_context() if event else {}

    def on_target(
        self, execution: ExecutionRow, operation: Callable[[Connector], T], unanswered_waits: bool = False
    ) -> T:
        """A connector call for the execution's target, under that target's retry policy.

        `unanswered_waits` (creates): a call that got no answer (timeout, dropped connection) may
        still land at the tracker, so the next attempt, which searches for it by correlation key,
        waits at least the target's timeout; an immediate retry would miss it and create a twin.
        """
        entry = self.rt.mappings.targets.get(execution.target)
        if entry is None:
            raise Done("failed", f"target {execution.target!r} is no longer in the mappings")
        connector = _connector(execution.target, entry.kind, entry.config)
        settle = float(getattr(entry.config, "timeout", 0.0)) if unanswered_waits else 0.0

        def attempt() -> T:
            try:
                return operation(connector)
            except RetryableError as exc:
                if settle and exc.http_status is None:
                    exc.retry_after = max(exc.retry_after or 0.0, settle)
                raise

        return self.call(execution, entry.retry, attempt)

    def call(self, execution: ExecutionRow, policy: RetryConfig, operation: Callable[[], T]) -> T:
        """Run `operation` under the retry policy, every attempt recorded; failures end as Done."""
        budget = Budget(
            policy=policy,
            attempts_before=self.attempts - execution.attempts_base,
            first_attempt_at=execution.first_attempt_at or time.time(),
            in_process_seconds=self.rt.settings.retry_budget_seconds,
            scale=self.rt.settings.retry_scale,
        )
        try:
            return call_with_retry(lambda: self.attempt(execution, operation), budget, sleep=self.sleep)
        except Reschedule as later:
            message = self.redactor(later.error.message)
            raise Done("queued", message, retry_in=later.delay, error_kind="transient") from None
        except GiveUp as gave_up:
            message = self.redactor(f"{gave_up.error.message} ({gave_up.reason})")
            raise Done("failed", message, error_kind="transient") from None
        except PermanentError as exc:
            message = exc.message
            if exc.kind == "auth":
                message = (
                    f"target {execution.target} refused the gateway's credentials: {message}; check that the user"
                    f" and token (or password) under targets.{execution.target} are still valid and allowed to do this"
                )
            raise Done("failed", self.redactor(message), error_kind=exc.kind) from None

    def attempt(self, execution: ExecutionRow, operation: Callable[[], T]) -> T:
        started = time.time()

        def record(outcome: str, **error: Any) -> None:
            duration_ms = int((time.time() - started) * 1000)
            self.flush_attempt()  # an earlier success of this run comes first
            self._record_attempt(execution.id, started_at=started, duration_ms=duration_ms, outcome=outcome, **error)

        try:
            result = operation()
        except Done:  # the handler ends the execution (a refused callback URL): not a failed attempt
            raise
        except ConnectorError as exc:
            message = self.redactor(exc.message)
            record("failed", error_kind=exc.kind, http_status=exc.http_status, message=message)
            raise
        except Exception as exc:  # unrecognised by any edge: a bug, never retried, its type named
            bug = self.redactor.error(unexpected(execution.action, exc))
            record("failed", error_kind=bug.kind, message=bug.message)
            raise bug from None
        self.flush_attempt()
        duration_ms = int((time.time() - started) * 1000)
        self._succeeded = {
            "execution_id": execution.id,
            "started_at": started,
            "duration_ms": duration_ms,
            "outcome": "succeeded",
        }
        return result
