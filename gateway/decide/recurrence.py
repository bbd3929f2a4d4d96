"""Recurrence comments: the recurrences of one ticket within a minute end as one comment per target.

The first recurrence's comment is queued at once. A later one in the window folds into it while no
worker has taken it (its params grow, the event's outcome names it); once it is taken, a new
execution carries every occurrence of the window, and a tracker that can edit comments (Jira)
edits the window's comment to name them all, while one that cannot posts only the new ones.

The flows' channels hear of a recurrence, or of another anomaly joining the open ticket of its group,
at most once an hour per ticket: a channel told anything about the ticket within `NOTICE_INTERVAL_S`
gets a `skipped` notify naming why (the trackers' comments record every one); otherwise it is told,
the message saying which occurrence it is or which anomaly joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gateway.core.models import Event
from gateway.record.mirror import Mirror
from gateway.record.rows import TicketRow
from gateway.record.store import Tx

RECURRENCE_FLOW = "recurrence"
WINDOW_S = 60.0
NOTICE_INTERVAL_S = 3600.0  # a channel hears of a ticket's recurrences at most this often


class Planner(Protocol):
    mirror: Mirror
    tx: Tx
    now: float

    def execution(self, outcome: Any, *, flow: str, action: Any, target: str, params: dict[str, Any],
                  ticket_id: int | None) -> str: ...  # fmt: skip


def plan(planner: Planner, ticket: TicketRow, event: Event, occurrence: int, outcome: Any) -> None:
    """One recurrence, for each of the ticket's targets (the caller holds the ticket's key lock)."""
    title = event.title or event.anomaly_id
    for target in ticket.targets:
        latest = planner.mirror.latest_comment(ticket.id, target, RECURRENCE_FLOW, tx=planner.tx)
        window = _window(latest, planner.now)
        before = [int(n) for n in latest.params.get("occurrences", [])] if latest and window else []
        if latest is not None and window is not None and latest.status == "queued":
            new = [*latest.params.get("new", before), occurrence]
            params = _params([*before, occurrence], new, title, window)
            if planner.mirror.set_queued_params(planner.tx, latest.id, params):
                outcome.executions.append(latest.id)  # coalesced: the event's execution is that one
                continue
        carried = window is not None and latest is not None and latest.status in ("failed", "skipped")
        new = [*latest.params.get("new", []), occurrence] if carried and latest else [occurrence]
        params = _params([*before, occurrence], new, title, window if window is not None else planner.now)
        planner.execution(outcome, flow=RECURRENCE_FLOW, action="comment", target=target, params=params,
                          ticket_id=ticket.id)  # fmt: skip


@dataclass(frozen=True)
class Known:
    """The anomaly of a delivery is news to no channel: it occurred again on its open ticket (`occurrence`),
    or it joined the open ticket of its group (`occurrence` None). The ticket's channels were told of it."""

    ticket: TicketRow
    occurrence: int | None
    anomaly: str  # source:anomaly_id

    def params(self) -> dict[str, Any]:
        """What the notify carries so that its message says why it is not a new problem."""
        return {"occurrence": self.occurrence} if self.occurrence is not None else {"joined": self.anomaly}

    def quiet_reason(self, number: str, channel: str) -> str:
        """Why its notify was skipped (the execution log shows it)."""
        if self.occurrence is None:
            return (
                f"anomaly {self.anomaly} joined {number}; {channel} was told about {number} within the hour,"
                " and the trackers get the linked anomalies as a comment"
            )
        return (
            f"the anomaly occurred again (occurrence {self.occurrence}); {channel} was told about {number} within"
            " the hour, and the trackers get the recurrence as a comment"
        )


def _window(latest: Any, now: float) -> float | None:
    """When the current window started, or None when there is none (no comment yet, or over a minute ago)."""
    if latest is None:
        return None
    since = float(latest.params.get("since", latest.created_at))
    return since if now - since < WINDOW_S else None


def _params(occurrences: list[int], new: list[int], title: str, since: float) -> dict[str, Any]:
    return {
        "occurrences": occurrences,
        "new": new,
        "since": since,
        "title": title,
        "text": text(new, title),  # what a tracker that cannot edit posts
        "full_text": text(occurrences, title),  # what the window's comment says once edited
    }


def text(occurrences: list[int], title: str) -> str:
    if len(occurrences) == 1:
        return f"The anomaly occurred again (occurrence {occurrences[0]}): {title}"
    return f"The anomaly occurred again {len(occurrences)} times (occurrences {_spans(occurrences)}): {title}"


def _spans(numbers: list[int]) -> str:
    """2, 3, 4, 6 -> '2-4, 6'."""
    spans: list[list[int]] = []
    for n in sorted(set(numbers)):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
