"""What a worker runs for one execution: claim it, hold its lease, hand it to its action's handler,
and conclude it (succeeded, skipped, failed, or queued again for later)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors import pacing
from gateway.core.outbound import ErrorKind, unexpected
from gateway.execute.context import WAIT_STEP, Context, Done
from gateway.execute.handlers import HANDLERS
from gateway.execute.handlers.notify import plan_auth_notice, plan_auth_recovered, plan_failure_notice
from gateway.record.rows import ExecutionRow
from gateway.record.runtime import Runtime
from gateway.record.store import CONFLICTS, unavailable

log = logging.getLogger("gateway.execute")
# leases that may expire in a row (the worker killed, out of memory, ...) before the next claim fails the
# execution instead of running it again: a run that kills its worker each time would be re-run forever
LEASE_EXPIRIES_MAX = 3
DATABASE_RETRY_S = 2.0  # a run the database refused to record runs again this soon (not in a tight loop)


class _Process:
    runtime: Runtime | None = None
    sleep: Callable[[float], None] = time.sleep


_process = _Process()


def configure(runtime: Runtime, sleep: Callable[[float], None] | None = None) -> None:
    """Set the runtime a worker process uses (tests inject `sleep` so nothing really waits, not even
    the spacing of writes to one tracker record)."""
    _process.runtime = runtime
    _process.sleep = sleep or time.sleep
    pacing.configure(_process.sleep)


def execute(execution_id: str) -> str:
    """An execution id in, its final or interim status out (also the job of releases before batched jobs)."""
    if _process.runtime is None:
        _process.runtime = Runtime.load()
    return Runner(Context(_process.runtime, _process.sleep)).run(execution_id)


def execute_many(execution_ids: list[str]) -> None:
    """The RQ job: a few execution ids, run in turn; one that crashes does not stop the others."""
    for execution_id in execution_ids:
        try:
            execute(execution_id)
        except Exception:  # its lease expires and the sweeper runs it again
            log.exception("execution %s could not run", execution_id)


class _Leases:
    """One thread per process renews the leases of every execution running in it (one UPDATE a round),
    instead of a thread and a transaction per job."""

    def __init__(self) -> None:
        self.active: dict[str, tuple[Runtime, float]] = {}  # id -> its runtime and its claim's started_at
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def hold(self, runtime: Runtime, execution_id: str, started_at: float) -> None:
        with self.lock:
            self.active[execution_id] = (runtime, started_at)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._renew, name="leases", daemon=True)
                self.thread.start()

    def release(self, execution_id: str) -> None:
        with self.lock:
            self.active.pop(execution_id, None)

    def _renew(self) -> None:
        while True:
            with self.lock:
                held = dict(self.active)
            period = min((rt.settings.lease_seconds / 3 for rt, _ in held.values()), default=1.0)
            time.sleep(period)
            by_mirror: dict[int, tuple[Runtime, list[tuple[str, float]]]] = {}
            for execution_id, (rt, started_at) in held.items():
                by_mirror.setdefault(id(rt.mirror), (rt, []))[1].append((execution_id, started_at))
            with self.lock:  # only what is still running
                current = set(self.active)
            for rt, claims in by_mirror.values():
                try:
                    still = [c for c in claims if c[0] in current]
                    rt.mirror.renew_leases(still, time.time() + rt.settings.lease_seconds)
                except Exception:  # a missed renewal only risks a harmless re-run
                    log.warning("could not renew the leases of %d executions", len(claims))


_LEASES = _Leases()


class _Lease:
    """Holds the execution's lease while the work goes on, so the sweeper leaves it alone."""

    def __init__(self, runtime: Runtime, execution: ExecutionRow) -> None:
        self.runtime, self.execution_id, self.started_at = runtime, execution.id, execution.started_at or 0.0

    def __enter__(self) -> _Lease:
        _LEASES.hold(self.runtime, self.execution_id, self.started_at)
        return self

    def __exit__(self, *exc: object) -> None:
        _LEASES.release(self.execution_id)


class Runner:
    def __init__(self, context: Context) -> None:
        self.ctx = context
        self.mirror = context.mirror
        self.retrying = False  # queued again after a failed attempt (not only waiting)

    def run(self, execution_id: str) -> str:
        claim = self.mirror.claim(execution_id, time.time(), self.ctx.rt.settings.lease_seconds)
        if claim is None:
            return "not-claimed"
        execution = self.ctx.claimed(claim)
        started = time.monotonic()
        try:
            outcome = self._run(execution)
        finally:
            self.ctx.flush_attempt()  # handlers that finish without a ticket link write it on its own
        if outcome == "succeeded" and self.ctx.auth_noticed and execution.target in self.ctx.rt.mappings.targets:
            self._credentials_work(execution)
        self._report(execution, outcome, time.monotonic() - started)
        return outcome

    def _credentials_work(self, execution: ExecutionRow) -> None:
        """The target took the credentials it was said to refuse (rare: the claim said a notice is open)."""
        try:
            with self.mirror.transaction() as tx:
                plan_auth_recovered(self.ctx, tx, execution, time.time())
        except Exception:  # the execution succeeded; the next success on the target says it
            log.warning("could not tell the channels that target %s takes the credentials again", execution.target)

    def _report(self, found: ExecutionRow, outcome: str, seconds: float) -> None:
        """One line per ticket action with its ids; failures are logged where they are concluded."""
        if outcome == "failed" or not log.isEnabledFor(logging.INFO):
            return
        ticket = self.ctx.rt.number(found.ticket_id) if found.ticket_id else None
        key = str((self.ctx.result or {}).get("external_key") or "") or None
        took = round(seconds * 1000, 1)
        log.info(
            "execution %s %s -> %s%s%s: %s in %.1f ms",
            found.id,
            found.action,
            found.target,
            f" {ticket}" if ticket else "",
            f" ({key})" if key else "",
            "will retry" if outcome == "queued" and self.retrying else outcome,
            took,
            extra=_ids(found, ticket, key) | {"outcome": outcome, "duration_ms": took},
        )

    def _run(self, execution: ExecutionRow) -> str:
        execution_id = execution.id
        with _Lease(self.ctx.rt, execution):
            try:
                if execution.lease_expiries >= LEASE_EXPIRIES_MAX:
                    raise Done("failed", _lost(execution.lease_expiries), error_kind="bug")
                handler = HANDLERS.get(execution.action)
                if handler is None:
                    raise Done("failed", f"unknown action {execution.action!r}")
                return handler(self.ctx, execution)
            except Done as done:
                return self.conclude(execution, done)
            except CONFLICTS:  # another node's transaction crossed ours (PostgreSQL): run it again shortly
                log.warning("execution %s met a concurrent transaction; running it again", execution_id)
                self.mirror.requeue(execution, time.time() + WAIT_STEP)
                return "queued"
            except Exception as exc:  # a bug must still end the execution with a reason
                if unavailable(exc):
                    return self._unrecorded(execution, exc)
                log.exception("execution %s crashed", execution_id)
                return self.fail(execution, self.ctx.redactor.error(unexpected("internal error", exc)).message, "bug")

    def _unrecorded(self, execution: ExecutionRow, exc: Exception) -> str:
        """The database refused a write (a lock held past the busy timeout, a lost connection), perhaps after
        the tracker acted: not a bug, and nothing to fail for good. The run goes back to the queue; the next
        finds what landed (a create searches by correlation key). A database that refuses the requeue too
        leaves the execution running: its lease expires and the sweeper queues it."""
        message = self.ctx.redactor(f"the database did not record this run ({type(exc).__name__}: {exc})")
        log.warning("execution %s: %s; running it again", execution.id, message)
        self.ctx.unsend_attempt()  # its successful attempt went down with the finish's transaction
        self.retrying = True
        later = time.time() + DATABASE_RETRY_S
        if not self.mirror.requeue(execution, later, error=message, error_kind="transient"):
            return self._superseded(execution)
        return "queued"

    def conclude(self, execution: ExecutionRow, done: Done) -> str:
        if done.status == "queued":
            kind = done.error_kind  # None while it only waits for an earlier action
            self.retrying = kind is not None
            later = time.time() + (done.retry_in or WAIT_STEP)
            if not self.mirror.requeue(execution, later, error=done.message if kind else None, error_kind=kind):
                return self._superseded(execution)
            return "queued"
        if done.status == "failed":
            return self.fail(execution, done.message, done.error_kind or "permanent")
        now = time.time()
        with self.mirror.transaction() as tx:
            self.mirror.finish(tx, execution, done.status, now, error=done.message)
        return done.status

    def _superseded(self, execution: ExecutionRow) -> str:
        """This run's lease expired and another run claimed the execution: that run's outcome stands."""
        log.warning("execution %s was claimed again after this run's lease expired; its outcome is not recorded",
                    execution.id)  # fmt: skip
        return "superseded"

    def fail(self, execution: ExecutionRow, message: str, kind: ErrorKind) -> str:
        now = time.time()
        with self.mirror.transaction() as tx:
            if not self.mirror.finish(tx, execution, "failed", now, error=message, error_kind=kind, checked=True):
                return self._superseded(execution)
            if execution.ticket_id and execution.action != "notify":
                self.mirror.add_timeline(
                    tx,
                    execution.ticket_id,
                    "action_failed",
                    "gateway",
                    {
                        "execution_id": execution.id,
                        "action": execution.action,
                        "target": execution.target,
                        "error": message,
                    },
                    now,
                )
                plan_failure_notice(self.ctx, tx, execution, now)
            if kind == "auth" and execution.target in self.ctx.rt.mappings.targets:
                plan_auth_notice(self.ctx, tx, execution, message, now)
        ticket = self.ctx.rt.number(execution.ticket_id) if execution.ticket_id else None
        log.warning(
            "execution %s %s -> %s%s failed: %s",
            execution.id,
            execution.action,
            execution.target,
            f" {ticket}" if ticket else "",
            message,
            extra=_ids(execution, ticket, None) | {"outcome": "failed", "error_kind": kind},
        )
        return "failed"


def _lost(times: int) -> str:
    return (
        f"the worker running it stopped {times} times before it finished (its lease expired each time: killed,"
        " out of memory, or a lease shorter than its calls); not run again: find the cause in the workers' logs,"
        " then retry it"
    )


def _ids(execution: ExecutionRow, ticket: str | None, key: str | None) -> dict[str, object]:
    """What a log line about an execution carries as fields (GATEWAY_LOG_FORMAT=json)."""
    return {
        "execution_id": execution.id,
        "event_id": execution.event_id,
        "ticket": ticket,
        "action": execution.action,
        "target": execution.target,
        "external_key": key,
    }
