"""One handler per action: `HANDLERS[execution.action](context, execution)` returns the final status."""

from __future__ import annotations

from collections.abc import Callable

from gateway.execute.context import Context
from gateway.execute.handlers import link_back, notify, tickets, webhook
from gateway.record.rows import ExecutionRow

Handler = Callable[[Context, ExecutionRow], str]

HANDLERS: dict[str, Handler] = {
    "create_ticket": tickets.create,
    "update_ticket_status": tickets.update_status,
    "comment": tickets.comment,
    "assign": tickets.assign,
    "notify": notify.send,
    "link_back": link_back.send,
    "webhook": webhook.send,
}
