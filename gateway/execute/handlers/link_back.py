"""Tell the source tool where its ticket is (Soda's `incidentLinkCallbackUrl`).

When a ticket is created for an event whose source gave a callback URL, a `link_back`
execution posts `{"url", "text"}` to it, with the channel retry policy, but only where the
source's `link_back:` allowlist says (`gateway.core.callbacks`); a refused URL is a `skipped`
execution naming the rule. The URL stays in the recorded event; it never enters an execution
record, a message or a log line, and the callee's answer is reported by status code only.
"""

from __future__ import annotations

import time

from connectors.base import RemoteTicket
from connectors.registry import KINDS
from gateway.core.callbacks import Refused, post_callback
from gateway.core.retry_config import CHANNEL_RETRY
from gateway.execute.context import Context, Done
from gateway.receive.sources import ADAPTERS
from gateway.record.rows import ExecutionRow
from gateway.record.store import Tx

CALLBACK = "link_callback_url"


def callback_url(ctx: Context, execution: ExecutionRow) -> str | None:
    event = ctx.event(execution)
    url = event.attributes.get(CALLBACK) if event else None
    return str(url) if url else None


def plan_link_back(ctx: Context, tx: Tx, execution: ExecutionRow, remote: RemoteTicket, now: float) -> None:
    """After a create: queue the post-back when the event asked for one and the ticket has a URL."""
    if not remote.url or callback_url(ctx, execution) is None:
        return
    target = ctx.rt.mappings.targets.get(execution.target)
    label = f"{KINDS[target.kind].display if target else 'Ticket'} {remote.external_key}".strip()
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
    event = ctx.event(execution)
    source = event.source if event else ""
    config = ctx.rt.mappings.sources.get(source)
    if config is None:
        raise Done("skipped", f"link-back not sent: source {source!r} is no longer in the mappings")
    allowed = ADAPTERS[config.kind].link_back(config)
    body = {"url": execution.params["url"], "text": execution.params["text"]}

    def post() -> object:
        try:
            return post_callback(url, body, allowed=allowed, what="the link callback", timeout=10.0)
        except Refused as refused:
            rule = f"sources.{source}.link_back.{refused.rule}"
            raise Done("skipped", f"link-back not sent (rule {rule}): {refused.detail}") from None

    ctx.call(execution, CHANNEL_RETRY, post)
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
        ctx.mirror.finish(tx, execution, "succeeded", now, result=body)
    return "succeeded"
