"""The `notify` action: wait for the flow's ticket actions, then post the ticket as it is.

Its failures are its own: they never touch the ticket actions it reports on.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.core.models import TICKET_ACTIONS
from gateway.execute.context import WAIT_STEP, Context, Done
from gateway.notify.messages import notification_message
from gateway.notify.post import deliver
from gateway.record.mirror import UNFINISHED
from gateway.record.rows import ExecutionRow
from gateway.record.runtime import Runtime
from gateway.record.store import Tx
from gateway.rules.schema import Notify


def send(ctx: Context, execution: ExecutionRow) -> str:
    """The `notify` action: wait for the flow's ticket actions, then post the ticket as it is."""
    channel = ctx.rt.mappings.channels.get(execution.target)
    if channel is None:
        raise Done("failed", f"channel {execution.target!r} is no longer in the mappings")
    if flow_unfinished(ctx.rt, execution):
        raise Done("queued", "waiting for the flow's ticket actions", retry_in=_wait_step(execution))
    message = notification_message(ctx.rt, execution)
    how: str = ctx.call(execution, channel.retry, lambda: deliver(channel, message))
    return _finish(ctx, execution, {"channel": execution.target, "via": how, "title": message.title})


def plan_failure_notice(ctx: Context, tx: Tx, execution: ExecutionRow, now: float) -> None:
    """A ticket action failed for good after its flow's notification went out: tell the channels again.

    A notification still waiting will report the failure itself; one already sent said an earlier
    state (the action was, say, still backing off), so a new one says what finally happened.
    """
    flow = ctx.rt.mappings.flow(execution.flow)
    if flow is None or not execution.event_id or execution.action not in TICKET_ACTIONS:
        return
    channels = [c for _, action in flow.actions if isinstance(action, Notify) for c in action.channels]
    for channel in dict.fromkeys(channels):
        earlier = ctx.mirror.list_executions(event_id=execution.event_id, action="notify", target=channel)
        if any(e.status in UNFINISHED for e in earlier):
            continue
        ctx.mirror.create_execution(
            tx,
            event_id=execution.event_id,
            ticket_id=execution.ticket_id,
            flow=flow.name,
            action="notify",
            target=channel,
            params={"wait_until": now},
            now=now,
            due_at=now,
        )


AUTH_NOTICE_INTERVAL = 3600.0  # seconds: one notice per target per hour, whatever the number of failures


def plan_auth_notice(ctx: Context, tx: Tx, execution: ExecutionRow, message: str, now: float) -> None:
    """A tracker refused the gateway's credentials: tell the channels flows notify (every channel when
    no flow notifies), once per target per hour across all processes (the claim is a database row).
    `message` is already redacted."""
    channels = _notice_channels(ctx.rt)
    if not channels or not ctx.mirror.claim_notice(tx, execution.target, "auth", now, AUTH_NOTICE_INTERVAL):
        return
    title = f"target {execution.target} refused the gateway's credentials"
    notice = {"title": title, "detail": message, "kind": "auth", "target": execution.target}
    _plan_notice(ctx, tx, channels, notice, now)


def plan_auth_recovered(ctx: Context, tx: Tx, execution: ExecutionRow, now: float) -> None:
    """The target took the credentials again after the channels were told it refused them: say so once
    (PagerDuty resolves the target's alert), and the next refusal is told at once."""
    if not ctx.mirror.resolve_notice(tx, execution.target, "auth"):
        return  # another process said it
    title = f"target {execution.target} accepts the gateway's credentials again"
    detail = f"{execution.action} succeeded on {execution.target} (execution {execution.id})"
    notice = {"title": title, "detail": detail, "kind": "auth", "target": execution.target, "resolved": True}
    _plan_notice(ctx, tx, _notice_channels(ctx.rt), notice, now)


def _notice_channels(rt: Runtime) -> list[str]:
    """A notice about the gateway goes to the channels flows notify, or to every channel when none does."""
    notified = [c for f in rt.mappings.flows for _, a in f.actions if isinstance(a, Notify) for c in a.channels]
    return list(dict.fromkeys(notified)) or list(rt.mappings.channels)


def _plan_notice(ctx: Context, tx: Tx, channels: list[str], notice: dict[str, Any], now: float) -> None:
    for channel in channels:
        ctx.mirror.create_execution(
            tx,
            event_id=None,
            ticket_id=None,
            flow="gateway",
            action="notify",
            target=channel,
            params={"notice": notice},
            now=now,
            due_at=now,
        )


def flow_unfinished(rt: Runtime, execution: ExecutionRow) -> bool:
    """True while a ticket action of this event is queued or running and the wait has not run out."""
    if not execution.event_id or time.time() >= float(execution.params.get("wait_until", 0)):
        return False
    siblings = rt.mirror.list_executions(event_id=execution.event_id)
    return any(e.action in TICKET_ACTIONS and e.status in UNFINISHED for e in siblings)


def _wait_step(execution: ExecutionRow) -> float:
    left = float(execution.params.get("wait_until", 0)) - time.time()
    return max(min(WAIT_STEP, left), 0.05)


def _finish(ctx: Context, execution: ExecutionRow, result: dict[str, Any]) -> str:
    """Succeeded, with a `notified` entry on the ticket's timeline, in one transaction."""
    now = time.time()
    with ctx.mirror.transaction() as tx:
        if execution.ticket_id:
            entry = {"channel": execution.target, "execution_id": execution.id}
            ctx.mirror.add_timeline(tx, execution.ticket_id, "notified", "gateway", entry, now)
        ctx.mirror.finish(tx, execution, "succeeded", now, result=result)
    return "succeeded"
