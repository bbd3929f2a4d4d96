"""The `webhook` action: an HTTP call to a URL from the mappings, signed per Standard Webhooks.

Signature (https://www.standardwebhooks.com): `webhook-id` (the execution id, the same on every
retry), `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature: v1,<base64
HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`; the key is the secret's bytes, or the base64
after `whsec_`. The rendered URL must keep the scheme and host the mappings wrote.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from gateway.core.http import send as send_request
from gateway.core.retry_config import CHANNEL_RETRY
from gateway.execute.context import WAIT_STEP, Context, Done
from gateway.execute.handlers.notify import flow_unfinished
from gateway.record.rows import ExecutionRow
from gateway.record.views import link_view
from gateway.rules.schema import Webhook
from gateway.rules.templates import RenderError


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except binascii.Error:
            raise Done("failed", "webhook secret: the part after whsec_ is not base64") from None
    return secret.encode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{digest}"}


def send(ctx: Context, execution: ExecutionRow) -> str:
    action = _action(ctx, execution)
    if flow_unfinished(ctx.rt, execution):  # under an anomaly trigger: after the flow's ticket actions
        raise Done("queued", "waiting for the flow's ticket actions", retry_in=WAIT_STEP)
    context = _context(ctx, execution)
    templates = ctx.rt.mappings.templates
    try:
        url = templates.render(action.url, context)
        body = templates.render(action.body, context).encode() if action.body else _default_body(context)
        headers = {name: templates.render(value, context) for name, value in action.headers.items()}
    except RenderError as exc:
        raise Done("failed", f"render: {exc}") from None
    if not action.keeps_to(url):
        raise Done("failed", "the rendered url leaves the scheme, host or path the mappings gave")
    headers.setdefault("content-type", "application/json")

    def attempt() -> int:
        signed = dict(headers)
        if action.secret:
            signed.update(signature_headers(action.secret, execution.id, int(time.time()), body))
        what = f"webhook {action.origin[1]}"
        response = send_request(action.method, url, what=what, timeout=action.timeout, headers=signed, content=body)
        return response.status_code

    status = ctx.call(execution, CHANNEL_RETRY, attempt)
    now = time.time()
    with ctx.mirror.transaction() as tx:
        if execution.ticket_id:
            entry = {"host": action.origin[1], "status": status, "execution_id": execution.id}
            ctx.mirror.add_timeline(tx, execution.ticket_id, "webhook_sent", "gateway", entry, now)
        ctx.mirror.finish(tx, execution, "succeeded", now, result={"http_status": status})
    return "succeeded"


def _action(ctx: Context, execution: ExecutionRow) -> Webhook:
    flow = ctx.rt.mappings.flow(execution.flow)
    index = int(execution.params.get("action_index", -1))
    action = flow.actions[index][1] if flow and 0 <= index < len(flow.actions) else None
    if not isinstance(action, Webhook):
        raise Done("failed", f"flow {execution.flow!r} no longer has this webhook action")
    return action


def _context(ctx: Context, execution: ExecutionRow) -> dict[str, Any]:
    """What templates see: the ticket as it is now, the change (ticket events) or the event (anomalies)."""
    ticket = ctx.mirror.ticket(execution.ticket_id) if execution.ticket_id else None
    view: dict[str, Any] = {}
    if ticket is not None:
        view = {
            "id": ticket.id,
            "number": ctx.rt.number(ticket.id),
            "state": ticket.state,
            "status": ticket.state,
            "note": "",
            "fields": ticket.fields,
            "anomaly_ids": ticket.anomaly_ids,
            "correlation_key": ticket.correlation_key,
            "source": ticket.source,
            "drift": ticket.drift,
            "links": {link.target: link_view(link) for link in ctx.mirror.links(ticket.id)},
        }
    return {"ticket": view, "change": execution.params.get("change") or {}, "event": ctx.event_context(execution)}


def _default_body(context: dict[str, Any]) -> bytes:
    body = {
        "type": context["change"].get("kind") or "anomaly",
        "ticket": context["ticket"],
        "change": context["change"],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
