"""Tell the source tool where its ticket is (Soda's `incidentLinkCallbackUrl`).

When a ticket is created for an event whose source gave a callback URL, a `link_back`
execution posts `{"url", "text"}` to it, with the channel retry policy. The URL stays in the
recorded event; it never enters an execution record, a message or a log line.
"""

from __future__ import annotations

import sqlite3
import time

from connectors.base import RemoteTicket
from gateway.core.http import post_json
from gateway.core.retry_config import CHANNEL_RETRY
from gateway.execute.context import Context, Done
from gateway.record.rows import ExecutionRow

CALLBACK = "link_callback_url"
TRACKERS = {"jira": "Jira", "servicenow": "ServiceNow", "local": "Gateway"}


def callback_url(ctx: Context, execution: ExecutionRow) -> str | None:
    event = ctx.mirror.get_event(execution.event_id)
    url = event.payload.get("attributes", {}).get(CALLBACK) if event else None
    return str(url) if url else None


def plan_link_back(
    ctx: Context, tx: sqlite3.Connection, execution: ExecutionRow, remote: RemoteTicket, now: float
) -> None:
    """After a create: queue the post-back when the event asked for one and the ticket has a URL."""
    if not remote.url or callback_url(ctx, execution) is None:
        return
    target = ctx.rt.mappings.targets.get(execution.target)
    label = f"{TRACKERS.get(target.kind if target else '', 'Ticket')} {remote.external_key}".strip()
    ctx.mirror.create_execution(
        tx,
        event_id=execution.event_id,
        ticket_id=execution.ticket_id,
        flow=execution.flow,
        action="link_back",
        target=execution.target,
        params={"url": remote.url, "text": label},
        now=now,
        due_at=now,
    )


def send(ctx: Context, execution: ExecutionRow) -> str:
    url = callback_url(ctx, execution)
    if url is None:
        raise Done("skipped", "the event carries no link callback URL")
    body = {"url": execution.params["url"], "text": execution.params["text"]}
    ctx.call(execution, CHANNEL_RETRY, lambda: post_json(url, body, what="the link callback", timeout=10.0))
    now = time.time()
    with ctx.mirror.transaction() as tx:
        ctx.mirror.add_timeline(
            tx,
            ctx.ticket_id(execution),
            "linked_back",
            "gateway",
            {"target": execution.target, "text": body["text"]},
            now,
        )
        ctx.mirror.finish(tx, execution.id, "succeeded", now, result=body)
    return "succeeded"
