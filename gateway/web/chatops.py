"""Chat commands shared by Slack and Teams: `/ticket DQ-42 [status [note] | comment <text> | help]`,
and `/ticket open <catalog item> <title>`.

Parsing is forgiving (status names as `gateway.rules.lifecycle.canonical_state` reads them, multi-word
statuses by longest prefix); running goes through `gateway.decide.operations`, the same path as the API,
so moves follow the state machine and reach every linked tracker. Every outcome, refusals
included, is a line of helpful text for the person who typed the command.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from gateway.core.errors import GatewayError, NotFound
from gateway.core.models import TICKET_ACTIONS
from gateway.decide import operations as actions
from gateway.decide import user_tickets
from gateway.dispatch.queue import Dispatcher
from gateway.notify.markup import SLACK, Markup, plain_text
from gateway.notify.messages import execution_problems, ticket_message
from gateway.record.mirror import UNFINISHED
from gateway.record.rows import TimelineRow
from gateway.record.runtime import Runtime
from gateway.record.store import DatabaseError, ValueRefused, unavailable
from gateway.record.views import iso
from gateway.rules.lifecycle import STATES, canonical_state
from gateway.rules.schema import EVERY_TARGET

Verb = Literal["help", "show", "move", "comment", "link", "unlink", "open"]
TIMELINE_SHOWN = 5
_LONGEST_STATE = max(len(s.split()) for s in STATES)
_HELP_WORDS = frozenset({"help", "?", "-h", "--help"})
log = logging.getLogger("gateway.web.chatops")


class CommandError(Exception):
    """The command could not be understood; the message tells the person how to write it."""


@dataclass(frozen=True)
class Command:
    verb: Verb
    reference: str = ""
    status: str = ""
    text: str = ""


@dataclass(frozen=True)
class Caller:
    """Who typed the command (`slack:alice`), who they are in the trackers, how their chat shows text."""

    actor: str
    assignee: str | None = None
    markup: Markup = SLACK
    invocation: str = ""  # how this chat starts a command: Slack's `/ticket`, Teams' `@DQ Gateway`
    people: dict[str, str] = field(default_factory=dict)
    chat_id: str = ""


def caller(rt: Runtime, actor: str, chat_id: str, markup: Markup = SLACK, invocation: str = "") -> Caller:
    """The caller with their tracker users from chatops.users (or slack_users); the mirror names them
    by the shared name, or by their chat identity when each target knows them differently."""
    people = rt.mappings.chatops.people(chat_id)
    assignee = (people.get(EVERY_TARGET) or actor) if people else None
    return Caller(actor, assignee, markup, invocation, people=people, chat_id=chat_id)


@dataclass
class Reply:
    """What to tell the person, and the executions their command queued (for a later outcome)."""

    text: str
    ticket_id: int | None = None
    executions: list[str] = field(default_factory=list)


def usage(command: str, prefix: str) -> str:
    return "\n".join(
        [
            f"`{command} {prefix}-42`: state, priority, links and the latest timeline entries",
            f"`{command} {prefix}-42 <status> [note]`: move it ({', '.join(STATES)})",
            f"`{command} {prefix}-42 comment <text>`: add a comment, sent to its trackers",
            f"`{command} {prefix}-42 link <source>:<anomaly id>`: the anomaly joins it (`unlink` to remove)",
            f"`{command} open <catalog item> <title>`: open a ticket from the catalog",
            f"`{command} help`: this text",
        ]
    )


def parse(text: str, command: str = "/ticket") -> Command:
    """Words in, a command out; CommandError says what is wrong with the words."""
    text = _without_command(text.strip(), command)
    words = text.split()
    if not words or words[0].lower() in _HELP_WORDS:
        return Command("help")
    reference, rest = words[0], words[1:]
    if reference.lower() == "open":
        title = _after_words(text, 2)
        if not title:
            raise CommandError(f"Opening a ticket needs an item and a title: `{command} open <catalog item> <title>`.")
        return Command("open", rest[0], text=title)
    if not rest:
        return Command("show", reference)
    if rest[0].lower() in _HELP_WORDS:  # `/ticket DQ-42 help`: how to write what comes after the number
        return Command("help")
    if rest[0].lower() == "comment":
        comment = _after_words(text, 2)
        if not comment:
            raise CommandError(f"A comment needs text: `{command} {_quoted(reference)} comment <text>`.")
        return Command("comment", reference, text=comment)
    if rest[0].lower() in ("link", "unlink"):
        verb: Verb = "link" if rest[0].lower() == "link" else "unlink"
        if len(rest) != 2 or ":" not in rest[1]:
            raise CommandError(f"Name one anomaly: `{command} {_quoted(reference)} {verb} <source>:<anomaly id>`.")
        return Command(verb, reference, text=rest[1])
    for count in range(min(len(rest), _LONGEST_STATE), 0, -1):
        state = canonical_state(" ".join(rest[:count]))
        if state is not None:
            return Command("move", reference, status=state, text=_after_words(text, count + 1))
    raise CommandError(f"`{_quoted(rest[0])}` is not a status or `comment`. Statuses: {', '.join(STATES)}.")


def _quoted(word: str) -> str:
    """A typed word inside a code span of a help text: nothing in it may end the span or open markup."""
    return re.sub(r"[`<>&\[\]()*_~|\\]", "", word)[:40]


def _without_command(text: str, command: str) -> str:
    """Teams users may type the slash command's name too: `@DQ /ticket DQ-42` or `@DQ ticket DQ-42`."""
    first, _, rest = text.partition(" ")
    return rest.strip() if first.lower() in (command.lower(), command.lstrip("/").lower()) else text


def _after_words(text: str, count: int) -> str:
    parts = text.split(None, count)
    return parts[count].strip() if len(parts) > count else ""


_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def teams_text(raw: str, bot: str = "") -> str:
    """A Teams message's HTML text as typed: the bot's <at> mention (the one naming `bot`, else the first)
    and markup removed. Anyone else mentioned stays in the words as `@name`: `comment ask @Alice` is a comment
    about Alice, not `ask`."""
    found = list(_MENTION.finditer(raw))
    names = [" ".join(html.unescape(m.group(1)).split()) for m in found]
    ours = found[names.index(bot)] if bot in names else found[0] if found else None
    text = _MENTION.sub(lambda m: " " if ours is not None and m.start() == ours.start() else f" @{m.group(1)} ", raw)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).replace("\xa0", " ").split())


# -- running ------------------------------------------------------------------------------
def run(rt: Runtime, dispatcher: Dispatcher | None, text: str, caller: Caller) -> Reply:
    """Parse and run one command for its caller; refusals come back as helpful text, never raised."""
    command = rt.mappings.chatops.command
    try:
        parsed = parse(text, command)
        if parsed.verb == "help":
            return Reply(usage(caller.invocation or command, rt.settings.ticket_prefix))
        return _VERBS[parsed.verb](rt, dispatcher, parsed, caller)
    except CommandError as exc:
        return Reply(f"{exc}\n{usage(caller.invocation or command, rt.settings.ticket_prefix)}")
    except NotFound as exc:  # details quote what was typed: escaped like any other data
        shown = caller.invocation or command
        hint = f"Ticket numbers look like {rt.settings.ticket_prefix}-42; `{shown} help` lists the commands."
        if exc.code == "unknown_catalog_item":
            hint = f"`{shown} open <catalog item> <title>` opens one."
        detail = caller.markup.escape(exc.detail)
        return Reply(f"{detail[:1].upper()}{detail[1:]}. {hint}")
    except GatewayError as exc:
        return Reply(f"Nothing changed: {caller.markup.escape(exc.detail)}.")
    except ValueRefused as exc:  # a NUL typed on PostgreSQL: the person's fault, said like any refusal
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Reply(f"Nothing changed: what was typed cannot be stored ({caller.markup.escape(reason)}).")
    except Exception as exc:  # the API answers these 503 or 500; a chat shows only a reply (Teams: only a 200)
        if isinstance(exc, DatabaseError) and unavailable(exc):
            log.error("a chat command found the database unavailable: %s", type(exc).__name__)
            return Reply("The gateway's database is unavailable right now (busy or unreachable); try again shortly.")
        log.exception("a chat command failed unexpectedly", exc_info=exc)
        return Reply("The gateway failed unexpectedly running this command; its log says why.")


def _show(rt: Runtime, _: Dispatcher | None, command: Command, caller: Caller) -> Reply:
    """The ticket and its latest entries; a comment or note quoting a configured secret is masked, as in
    notifications (a Teams reply is seen by the whole channel)."""
    ticket = actions.find_ticket(rt, command.reference)
    entries = rt.mirror.timeline(ticket.id)[-TIMELINE_SHOWN:]
    redact = rt.redactor()
    latest = [f"• {caller.markup.escape(redact(describe(e)))}" for e in entries]
    lines = [plain_text(ticket_message(rt, ticket), caller.markup), "Latest:", *latest]
    return Reply("\n".join(lines), ticket_id=ticket.id)


def _move(rt: Runtime, dispatcher: Dispatcher | None, command: Command, caller: Caller) -> Reply:
    found = actions.find_ticket(rt, command.reference)
    before, assigned_before = found.state, found.fields.get("assigned_to", "")
    taking = bool(caller.assignee) and command.status == "In Progress"
    ticket, executions = actions.move_ticket(
        rt,
        dispatcher,
        command.reference,
        command.status,
        note=command.text,
        actor=caller.actor,
        person=caller.assignee,
        taking=taking,
        origin="chat",
        chat_id=caller.chat_id,
        people=caller.people,
    )
    number = rt.number(ticket.id)
    text = f"{number} moved from {before} to {ticket.state}"
    taker, people = caller.assignee, caller.people
    unassigned = not ticket.fields.get("assigned_to")
    if taker and ticket.fields.get("assigned_to") == taker != assigned_before:  # taken with the move
        each = [f"{t}: {people[t]}" for t in ticket.targets if t in people]
        text += f" and assigned to {caller.markup.escape(taker)}" + (f" ({', '.join(each)})" if each else "")
    chat_people = rt.mappings.chatops.users or rt.mappings.chatops.slack_users
    if ticket.state == "In Progress" and (taker or unassigned) and chat_people:
        text += _unmapped(ticket.targets, caller)
    executions = _tracker_actions(rt, ticket.id, executions)
    return Reply(f"{text}. {_queued(executions)}", ticket_id=ticket.id, executions=executions)


def _unmapped(targets: list[str], caller: Caller) -> str:
    """Which linked trackers the taker has no user in, so the ticket stays unassigned there."""
    missing = [t for t in targets if t not in caller.people and EVERY_TARGET not in caller.people]
    if not missing:
        return ""
    who = caller.chat_id or caller.actor
    who = caller.markup.escape(who)
    return f"; not assigned in {', '.join(missing)}: chatops.users has no user there for {who}"


def _comment(rt: Runtime, dispatcher: Dispatcher | None, command: Command, caller: Caller) -> Reply:
    ticket, executions = actions.comment_ticket(
        rt, dispatcher, command.reference, command.text, actor=caller.actor, origin="chat"
    )
    number = rt.number(ticket.id)
    executions = _tracker_actions(rt, ticket.id, executions)
    return Reply(f"Comment added to {number}. {_queued(executions)}", ticket_id=ticket.id, executions=executions)


def _link(rt: Runtime, _: Dispatcher | None, command: Command, caller: Caller) -> Reply:
    source, _sep, anomaly_id = command.text.partition(":")
    if command.verb == "unlink":
        ticket = actions.unlink_anomaly(rt, command.reference, source, anomaly_id, actor=caller.actor)
        return Reply(f"{caller.markup.escape(command.text)} unlinked from {rt.number(ticket.id)}.", ticket_id=ticket.id)
    ticket, moved_from = actions.link_anomaly(rt, command.reference, source, anomaly_id, actor=caller.actor)
    moved = f" (moved from {moved_from})" if moved_from else ""
    return Reply(f"{caller.markup.escape(command.text)} linked to {rt.number(ticket.id)}{moved}.", ticket_id=ticket.id)


def _open(rt: Runtime, dispatcher: Dispatcher | None, command: Command, caller: Caller) -> Reply:
    ticket, executions = user_tickets.open_ticket(
        rt,
        dispatcher,
        requester=caller.actor,
        fields={"title": command.text},
        catalog=command.reference,
        origin="chat",
        chat_id=caller.chat_id,
    )
    number = rt.number(ticket.id)
    executions = _tracker_actions(rt, ticket.id, executions)
    title = caller.markup.escape(ticket.fields.get("short_description", ""))
    text = f"Opened {number} from {command.reference}: {title}. {len(executions)} tracker create(s) queued."
    return Reply(text, ticket_id=ticket.id, executions=executions)


_VERBS: dict[str, Callable[[Runtime, Dispatcher | None, Command, Caller], Reply]] = {
    "show": _show,
    "move": _move,
    "comment": _comment,
    "link": _link,
    "unlink": _link,
    "open": _open,
}


def _tracker_actions(rt: Runtime, ticket_id: int, execution_ids: list[str]) -> list[str]:
    """The executions that reach a tracker: what the reply counts and its outcome waits for. A ticket-event
    flow's notify or webhook (or a PagerDuty resolve) runs too, but is no tracker update and may wait a minute.
    The ticket's newest executions, read once (the command just planned them)."""
    tracker = {e.id for e in rt.mirror.list_executions(ticket_id=ticket_id) if e.action in TICKET_ACTIONS}
    return [i for i in execution_ids if i in tracker]


def _queued(executions: list[str]) -> str:
    if not executions:
        return "It has no linked trackers to update."
    return f"{len(executions)} tracker update(s) queued."


def describe(entry: TimelineRow) -> str:
    """One timeline entry as a short line: when, who, what."""
    data = entry.data
    summaries: dict[str, Callable[[], str]] = {
        "status_changed": lambda: f"{data.get('from')} → {data.get('to')}" + _note(data.get("note")),
        "comment": lambda: _note(data.get("text")).strip(": "),
        "linked": lambda: f"linked {data.get('target')} {data.get('key')}" + _was(data.get("was")),
        "notified": lambda: f"notified {data.get('channel')}",
        "action_failed": lambda: f"{data.get('action')} → {data.get('target')} failed: {data.get('error')}",
        "field_changed": lambda: f"{data.get('field')}: {data.get('from') or '-'} → {data.get('to')}",
    }
    what = summaries.get(entry.kind, lambda: "")()
    when = (iso(entry.at) or "")[:16].replace("T", " ")
    return f"{when} {entry.kind} by {entry.actor}" + (f": {what}" if what else "")


def _note(text: str | None) -> str:
    return f": {text}" if text else ""


def _was(key: str | None) -> str:
    return f" (moved from {key})" if key else ""


# -- the outcome, later ----------------------------------------------------------------------
def wait_for(
    rt: Runtime,
    execution_ids: list[str],
    seconds: float,
    stop: threading.Event,
    *,
    poll: float = 0.2,
) -> None:
    """Until every one of the executions has finished, `seconds` have passed or `stop` is set."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set() and _unfinished(rt, execution_ids):
        stop.wait(poll)


def _unfinished(rt: Runtime, execution_ids: list[str]) -> bool:
    found = (rt.mirror.execution(i) for i in execution_ids)
    return any(e is not None and e.status in UNFINISHED for e in found)


def outcome_text(rt: Runtime, reply: Reply, markup: Markup = SLACK) -> str:
    """The ticket as it is now, and how each execution the command queued went."""
    ticket = rt.mirror.ticket(reply.ticket_id) if reply.ticket_id is not None else None
    if ticket is None:
        return reply.text
    message = ticket_message(rt, ticket)
    executions = [e for e in (rt.mirror.execution(i) for i in reply.executions) if e is not None]
    message.problems = execution_problems(executions)
    done = "" if message.problems else "\nEvery linked tracker followed."
    return plain_text(message, markup) + done
