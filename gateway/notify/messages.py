"""What a notification says: a ticket as it is now, and what went wrong for its event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.registry import KINDS
from gateway.core.models import TICKET_ACTIONS
from gateway.record.mirror import UNFINISHED
from gateway.record.rows import ExecutionRow, TicketRow
from gateway.record.runtime import Runtime
from gateway.record.views import ticket_view


@dataclass
class Message:
    """A ticket as chat shows it, before it becomes Block Kit, an Adaptive Card or plain text."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    context: str = ""
    # PagerDuty's dedup_key: the ticket's correlation key, or a gateway notice's kind and target
    dedup_key: str = ""
    state: str = ""
    priority: str = ""


def ticket_message(rt: Runtime, ticket: TicketRow) -> Message:
    """Number, short description, state, priority and tracker links of a ticket, as it is now."""
    view = ticket_view(rt, ticket)
    fields = view["fields"]
    facts = [("State", view["state"]), ("Priority", fields.get("priority") or "none")]
    if fields.get("assigned_to"):
        facts.append(("Assigned to", fields["assigned_to"]))
    links = [(link_label(rt, link), link["url"]) for link in view["links"] if link["url"]]
    return Message(
        title=f"{view['number']}: {fields.get('short_description') or '(no description)'}",
        facts=facts,
        links=links,
        dedup_key=ticket.correlation_key,
        state=ticket.state,
        priority=fields.get("priority", ""),
    )


def link_label(rt: Runtime, link: dict[str, Any]) -> str:
    """'Jira DQ-12 (In Progress)': the tracker, its key, and the status it reported, by name."""
    target = rt.mappings.targets.get(link["target"])
    tracker = KINDS[target.kind].display if target else link["target"]
    remote = str(link["remote_status"] or "")
    status_label = getattr(target.config, "status_label", None) if target else None
    if status_label is not None:
        remote = status_label(remote)
    status = f" ({remote})" if remote else ""
    return f"{tracker} {link['external_key']}{status}"


def execution_problems(executions: list[ExecutionRow]) -> list[str]:
    """Which ticket actions failed and why, and which have not finished yet."""
    problems = []
    for execution in sorted(executions, key=lambda e: e.seq):
        if execution.action not in TICKET_ACTIONS:
            continue
        what = f"{execution.action} → {execution.target}"
        if execution.status == "failed":
            problems.append(f"{what} failed: {execution.error or 'no reason recorded'}")
        elif execution.status in UNFINISHED:
            problems.append(f"{what} has not finished yet")
    return problems


def notice_key(kind: str, target: str) -> str:
    """One PagerDuty alert per target and kind, updated by each hourly notice; no ':' so that no
    correlation key (`source:anomaly`) can be the same."""
    return f"dq-gateway/{kind}/{target}" if kind and target else ""


COMMENT_LIMIT = 500  # characters of a comment quoted; the tracker has the whole of it


def change_facts(change: dict[str, Any]) -> list[tuple[str, str]]:
    """What a ticket event changed, as facts: the move, the new assignee, the comment (clipped), the SLA timer.

    Names are fixed words (channels bold them as markup); who and what people wrote go in values, which every
    channel escapes."""
    kind, who = change.get("kind"), str(change.get("actor") or "gateway")
    if kind == "ticket_status_changed":
        moved = f"{change.get('from') or '?'} → {change.get('to') or change.get('status') or '?'}"
        note = str(change.get("note") or "")
        return [("Change", f"{moved} by {who}")] + ([("Note", _clip(note, COMMENT_LIMIT))] if note else [])
    if kind == "ticket_assigned":
        to, before = change.get("to", change.get("assignee")), change.get("from")
        assigned = f"assigned to {to}" if to else "unassigned"
        return [("Change", f"{assigned}{f' (was {before})' if before else ''} by {who}")]
    if kind == "ticket_comment_added":
        return [("Change", f"comment by {who}"), ("Comment", _clip(str(change.get("text") or ""), COMMENT_LIMIT))]
    if kind == "sla_breached":
        return [("Change", f"{change.get('timer') or 'an'} SLA breached")]
    if kind == "ticket_opened":
        return [("Change", f"opened by {who}")]
    return []


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notification_message(rt: Runtime, execution: ExecutionRow) -> Message:
    """The ticket of a notify execution now, with what went wrong for its event."""
    notice = execution.params.get("notice")
    if isinstance(notice, dict):  # about the gateway itself (a target refusing its credentials), no ticket
        detail, resolved = str(notice.get("detail", "")), bool(notice.get("resolved"))
        return Message(
            title=str(notice.get("title", "")),
            facts=[("Resolved by", detail)] if resolved else [],
            problems=[] if resolved else [detail],
            context="gateway" if resolved else "gateway · at most hourly",
            dedup_key=notice_key(str(notice.get("kind", "")), str(notice.get("target", ""))),
            state="Resolved" if resolved else "",  # PagerDuty resolves the notice's alert
        )
    ticket = rt.mirror.ticket(execution.ticket_id) if execution.ticket_id else None
    change = execution.params.get("change")
    if ticket is not None and isinstance(change, dict):  # a ticket event: say what happened and who did it
        message = ticket_message(rt, ticket)
        redact = rt.redactor()  # a person's comment or note may quote a configured secret
        message.facts[:0] = [(name, redact(value)) for name, value in change_facts(change)]
        message.context = f"flow {execution.flow} · {change.get('kind', '')} by {change.get('actor') or 'gateway'}"
        return message
    event = rt.mirror.get_event(execution.event_id) if execution.event_id else None
    payload = event.payload if event else {}
    anomaly = f"{payload.get('source', '?')} anomaly {payload.get('anomaly_id', '?')}"
    message = ticket_message(rt, ticket) if ticket is not None else Message(title=f"No ticket for {anomaly}")
    if payload.get("url"):
        message.links.append((anomaly, str(payload["url"])))
    if event is not None:
        siblings = rt.mirror.list_executions(event_id=execution.event_id)
    elif ticket is not None:  # a person's ticket or move: the ticket's own actions
        siblings = rt.mirror.list_executions(ticket_id=ticket.id)
    else:
        siblings = []
    message.problems = execution_problems(siblings)
    origin = anomaly if event is not None else f"opened by {ticket.requester}" if ticket and ticket.requester else ""
    occurrence = execution.params.get("occurrence")  # a recurrence on an open ticket: not a new problem
    joined = execution.params.get("joined")  # another anomaly of the group joined the open ticket
    again = f" · the anomaly occurred again (occurrence {occurrence})" if occurrence else ""
    again += f" · joined the open ticket {rt.number(ticket.id)}" if joined and ticket is not None else ""
    message.context = f"flow {execution.flow}" + (f" · {origin}" if origin else "") + again
    return message
