"""What a worker runs for one execution: claim it, call the connector with the retry policy,
record every attempt, and update the ticket, its link and its timeline."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from connectors.base import AssignRequest, CommentRequest, Connector, CreateRequest, RemoteTicket, StatusRequest
from connectors.registry import KINDS
from gateway.core.models import Event, TicketFields
from gateway.core.outbound import ConnectorError, PermanentError, RetryableError
from gateway.core.redact import Redactor
from gateway.core.retry_config import RetryConfig
from gateway.decide.planner import Planner
from gateway.execute.retry import Budget, GiveUp, Reschedule, call_with_retry
from gateway.record.runtime import Runtime
from gateway.rules.templates import RenderError

log = logging.getLogger("gateway.execute.runner")
T = TypeVar("T")
WAIT_STEP = 0.5  # how soon an execution waiting on an earlier one looks again


class _Context:
    runtime: Runtime | None = None
    sleep: Callable[[float], None] = time.sleep


_context = _Context()


def configure(runtime: Runtime, sleep: Callable[[float], None] | None = None) -> None:
    """Set the runtime a worker process uses (tests inject `sleep` so nothing really waits)."""
    _context.runtime = runtime
    _context.sleep = sleep or time.sleep


def execute(execution_id: str) -> str:
    """The RQ job: an execution id in, its final or interim status out."""
    if _context.runtime is None:
        _context.runtime = Runtime.load()
    return Executor(_context.runtime, _context.sleep).run(execution_id)


class Done(Exception):
    """Finish the execution now with this status and message (skipped, or waiting)."""

    def __init__(
        self, status: str, message: str = "", retry_in: float | None = None, error_kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_in = retry_in
        self.error_kind = error_kind  # set when a connector error ends or delays the execution


class _Lease:
    """Renews the execution's lease while the work goes on, so the sweeper leaves it alone."""

    def __init__(self, runtime: Runtime, execution_id: str) -> None:
        self.runtime, self.execution_id = runtime, execution_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True)

    def _renew(self) -> None:
        lease = self.runtime.settings.lease_seconds
        while not self.stop.wait(lease / 3):
            try:
                self.runtime.mirror.renew_lease(self.execution_id, time.time() + lease)
            except Exception:  # a missed renewal only risks a harmless re-run
                log.warning("could not renew the lease of %s", self.execution_id)

    def __enter__(self) -> _Lease:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


class Executor:
    def __init__(self, runtime: Runtime, sleep: Callable[[float], None]) -> None:
        self.rt = runtime
        self.mirror = runtime.mirror
        self.sleep = sleep
        self.redactor = Redactor(runtime.mappings.secrets())

    def run(self, execution_id: str) -> str:
        execution = self.mirror.claim(execution_id, time.time(), self.rt.settings.lease_seconds)
        if execution is None:
            return "not-claimed"
        with _Lease(self.rt, execution_id):
            try:
                return self.perform(execution)
            except Done as done:
                return self.conclude(execution, done)
            except Exception as exc:  # a bug must still end the execution with a reason
                log.exception("execution %s crashed", execution_id)
                message = self.redactor(f"internal error: {type(exc).__name__}: {exc}")
                return self.fail(execution, message, "permanent")

    # -- dispatch -------------------------------------------------------------------------
    def perform(self, execution: dict[str, Any]) -> str:
        action = execution["action"]
        if action == "notify":
            from gateway.notify.channels import send_notification

            return send_notification(self, execution)
        if action == "link_back":
            from gateway.execute.link_back import send_link_back

            return send_link_back(self, execution)
        self.wait_for_earlier(execution)
        if action == "create_ticket":
            return self.create(execution)
        link = self.require_link(execution)
        if action == "update_ticket_status":
            return self.update_status(execution, link)
        if action == "comment":
            return self.comment(execution, link)
        if action == "assign":
            return self.assign(execution, link)
        raise Done("failed", f"unknown action {action!r}")

    def wait_for_earlier(self, execution: dict[str, Any]) -> None:
        """Ticket actions on one ticket and target apply in the order they were planned."""
        earlier = self.mirror.earlier_unfinished(execution)
        if earlier is not None:
            raise Done("queued", f"waiting for {earlier['action']} {earlier['id']}", retry_in=WAIT_STEP)

    def require_link(self, execution: dict[str, Any]) -> dict[str, Any]:
        link = self.mirror.link(execution["ticket_id"], execution["target"])
        if link is not None:
            return link
        create = self.mirror.latest_create(execution["ticket_id"], execution["target"])
        if create is None:
            raise Done("skipped", f"the ticket has no {execution['target']} link and no create for it")
        if create["status"] in ("queued", "running"):
            raise Done("queued", "waiting for the ticket's create", retry_in=WAIT_STEP)
        raise Done("skipped", f"the create for {execution['target']} failed: {create['error'] or create['status']}")

    # -- actions --------------------------------------------------------------------------
    def create(self, execution: dict[str, Any]) -> str:
        if "fields" not in execution["params"]:
            execution = self.replan(execution)
        ticket = self.ticket(execution)
        fields = msgspec.convert(execution["params"]["fields"], TicketFields)  # created in its initial status
        link = self.mirror.link(ticket["id"], execution["target"])
        if link is not None:
            return self.succeed(execution, _remote(link), created_as=fields.status)
        request = CreateRequest(
            number=self.rt.number(ticket["id"]),
            correlation_key=ticket["correlation_key"],
            fields=fields,
            event=self.event_context(execution),
        )
        remote = self.on_target(execution, lambda connector: connector.create(request), unanswered_waits=True)
        return self.succeed(execution, remote, created_as=fields.status)

    def update_status(self, execution: dict[str, Any], link: dict[str, Any]) -> str:
        ticket = self.ticket(execution)
        params = execution["params"]
        request = StatusRequest(
            number=self.rt.number(ticket["id"]),
            correlation_key=ticket["correlation_key"],
            status=params["status"],
            link=_remote(link),
            note=params.get("note", ""),
            event=self.event_context(execution),
        )
        remote = self.on_target(execution, lambda connector: connector.set_status(request))
        return self.succeed(execution, remote)

    def comment(self, execution: dict[str, Any], link: dict[str, Any]) -> str:
        ticket = self.ticket(execution)
        request = CommentRequest(
            number=self.rt.number(ticket["id"]), link=_remote(link), text=execution["params"]["text"]
        )
        self.on_target(execution, lambda connector: connector.comment(request))
        return self.succeed(execution, _remote(link))

    def assign(self, execution: dict[str, Any], link: dict[str, Any]) -> str:
        request = AssignRequest(
            number=self.rt.number(execution["ticket_id"]), link=_remote(link), assignee=execution["params"]["assignee"]
        )
        remote = self.on_target(execution, lambda connector: connector.assign(request))
        return self.succeed(execution, remote)

    # -- helpers --------------------------------------------------------------------------
    def replan(self, execution: dict[str, Any]) -> dict[str, Any]:
        """Render a create whose templates failed when it was planned, with the mappings loaded now."""
        stored = self.mirror.get_event(execution["event_id"]) if execution["event_id"] else None
        if stored is None:
            raise Done("failed", execution["error"] or "the execution has no rendered fields and no event")
        try:
            with self.mirror.transaction() as tx:
                Planner(self.rt, tx, time.time()).replan_create(execution, msgspec.convert(stored["payload"], Event))
        except RenderError as exc:
            raise Done("failed", f"render: {exc}") from None
        return self.mirror.execution(execution["id"]) or execution

    def ticket(self, execution: dict[str, Any]) -> dict[str, Any]:
        ticket = self.mirror.ticket(execution["ticket_id"]) if execution["ticket_id"] else None
        if ticket is None:
            raise Done("failed", execution["error"] or "the execution has no ticket")
        return ticket

    def event_context(self, execution: dict[str, Any]) -> dict[str, Any]:
        event = self.mirror.get_event(execution["event_id"]) if execution["event_id"] else None
        if event is None:
            return {}
        return msgspec.convert(event["payload"], Event).template_context()

    def on_target(
        self, execution: dict[str, Any], operation: Callable[[Connector], T], unanswered_waits: bool = False
    ) -> T:
        """A connector call for the execution's target, under that target's retry policy.

        `unanswered_waits` (creates): a call that got no answer (timeout, dropped connection) may
        still land at the tracker, so the next attempt, which searches for it by correlation key,
        waits at least the target's timeout; an immediate retry would miss it and create a twin.
        """
        entry = self.rt.mappings.targets.get(execution["target"])
        if entry is None:
            raise Done("failed", f"target {execution['target']!r} is no longer in the mappings")
        connector = KINDS[entry.kind].build(entry.config)
        settle = float(getattr(entry.config, "timeout", 0.0)) if unanswered_waits else 0.0

        def attempt() -> T:
            try:
                return operation(connector)
            except RetryableError as exc:
                if settle and exc.http_status is None:
                    exc.retry_after = max(exc.retry_after or 0.0, settle)
                raise

        try:
            return self.call(execution, entry.retry, attempt)
        finally:
            connector.close()

    def call(self, execution: dict[str, Any], policy: RetryConfig, operation: Callable[[], T]) -> T:
        """Run `operation` under the retry policy, every attempt recorded; failures end as Done."""
        budget = Budget(
            policy=policy,
            attempts_before=self.mirror.attempt_count(execution["id"]) - execution["attempts_base"],
            first_attempt_at=execution["first_attempt_at"] or time.time(),
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
            raise Done("failed", self.redactor(exc.message), error_kind="permanent") from None

    def attempt(self, execution: dict[str, Any], operation: Callable[[], T]) -> T:
        started = time.time()

        def record(outcome: str, **error: Any) -> None:
            duration_ms = int((time.time() - started) * 1000)
            self.mirror.record_attempt(
                execution["id"], started_at=started, duration_ms=duration_ms, outcome=outcome, **error
            )

        try:
            result = operation()
        except ConnectorError as exc:
            message = self.redactor(exc.message)
            record("failed", error_kind=exc.kind, http_status=exc.http_status, message=message)
            raise
        except Exception as exc:  # unclassified: never retried, always explained
            message = self.redactor(f"{type(exc).__name__}: {exc}")
            record("failed", error_kind="permanent", message=message)
            raise PermanentError(message) from None
        record("succeeded")
        return result

    def succeed(self, execution: dict[str, Any], remote: RemoteTicket, *, created_as: str | None = None) -> str:
        """Record the tracker's answer on the link, and what a finished create sets off."""
        from gateway.execute.link_back import plan_link_back

        now = time.time()
        with self.mirror.transaction() as tx:
            if execution["action"] != "comment":
                first = self.save_link(tx, execution, remote, now)
                if created_as is not None:
                    self.catch_up(tx, execution, created_as, now)
                    if first:
                        plan_link_back(self, tx, execution, remote, now)
            result = {"external_key": remote.external_key, "url": remote.url, "remote_status": remote.remote_status}
            self.mirror.finish(tx, execution["id"], "succeeded", now, result=result)
        return "succeeded"

    def save_link(self, tx: sqlite3.Connection, execution: dict[str, Any], remote: RemoteTicket, now: float) -> bool:
        """Store the link; True (and a `linked` timeline entry) when the ticket had none for this target."""
        ticket_id, target = execution["ticket_id"], execution["target"]
        first = self.mirror.link(ticket_id, target, tx) is None
        self.mirror.save_link(tx, ticket_id, target, msgspec.to_builtins(remote), now)
        if first:
            entry = {"target": target, "key": remote.external_key, "url": remote.url}
            self.mirror.add_timeline(tx, ticket_id, "linked", "gateway", entry, now)
        return first

    def catch_up(self, tx: sqlite3.Connection, execution: dict[str, Any], created_as: str, now: float) -> None:
        """The ticket moved while its create was pending and nothing queued will move it: queue that move."""
        ticket = self.mirror.ticket(execution["ticket_id"], tx)
        if ticket is None or ticket["state"] == created_as:
            return
        if self.mirror.pending_action(tx, ticket["id"], execution["target"], "update_ticket_status"):
            return
        self.mirror.create_execution(
            tx,
            event_id=execution["event_id"],
            ticket_id=ticket["id"],
            flow="catch-up",
            action="update_ticket_status",
            target=execution["target"],
            now=now,
            due_at=now,
            params={"status": ticket["state"], "note": "", "actor": "gateway"},
        )

    def conclude(self, execution: dict[str, Any], done: Done) -> str:
        if done.status == "queued":
            kind = done.error_kind  # None while it only waits for an earlier action
            self.mirror.requeue(
                execution["id"],
                time.time() + (done.retry_in or WAIT_STEP),
                error=done.message if kind else None,
                error_kind=kind,
            )
            return "queued"
        if done.status == "failed":
            return self.fail(execution, done.message, done.error_kind or "permanent")
        now = time.time()
        with self.mirror.transaction() as tx:
            self.mirror.finish(tx, execution["id"], done.status, now, error=done.message)
        return done.status

    def fail(self, execution: dict[str, Any], message: str, kind: str) -> str:
        now = time.time()
        with self.mirror.transaction() as tx:
            self.mirror.finish(tx, execution["id"], "failed", now, error=message, error_kind=kind)
            if execution["ticket_id"] and execution["action"] != "notify":
                self.mirror.add_timeline(
                    tx,
                    execution["ticket_id"],
                    "action_failed",
                    "gateway",
                    {
                        "execution_id": execution["id"],
                        "action": execution["action"],
                        "target": execution["target"],
                        "error": message,
                    },
                    now,
                )
                from gateway.notify.channels import plan_failure_notice

                plan_failure_notice(self, tx, execution, now)
        log.warning(
            "execution %s (%s -> %s) failed: %s", execution["id"], execution["action"], execution["target"], message
        )
        return "failed"


def _remote(link: dict[str, Any]) -> RemoteTicket:
    return RemoteTicket(
        external_id=link["external_id"],
        external_key=link["external_key"],
        url=link["url"],
        remote_status=link["remote_status"],
        remote_priority=link["remote_priority"],
    )


__all__ = ["Executor", "RetryableError", "configure", "execute"]
