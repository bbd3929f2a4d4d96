"""A flow's terminal actions (notify, webhook): queued with its ticket actions, run after them."""

from __future__ import annotations

from typing import Any

from gateway.core.models import ActionName
from gateway.rules.schema import Flow, Notify, Webhook


def terminal_actions(flows: list[Flow], now: float, wait: float) -> list[tuple[str, ActionName, str, dict[str, Any]]]:
    """(flow, action, target, params) for each; each waits for the event's ticket actions until `wait_until`."""
    planned: list[tuple[str, ActionName, str, dict[str, Any]]] = []
    for flow in flows:
        for index, (_, action) in enumerate(flow.actions):
            if isinstance(action, Notify):
                until = now + (action.wait if action.wait is not None else wait)
                planned += [(flow.name, "notify", channel, {"wait_until": until}) for channel in action.channels]
            elif isinstance(action, Webhook):
                planned.append((flow.name, "webhook", "webhook", {"wait_until": now + wait, "action_index": index}))
    return planned
