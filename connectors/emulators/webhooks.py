"""Outgoing webhooks of an emulator (Jira's, for two-way sync), with delivery faults.

Deliveries go out synchronously, before the emulator answers the request that caused them, so a
test that acts and then looks sees the gateway's answer. Faults apply to the next deliveries:
`drop` (never sent), `duplicate` (sent twice, same identifier), `hold` (kept until `release`,
which may send them in reverse: out-of-order delivery), `delay` (sent from a timer thread).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    status: int | None = None  # the receiver's answer; None while held or dropped


@dataclass
class WebhookSender:
    url: str = ""
    secret: str = ""
    faults: list[tuple[str, float]] = field(default_factory=list)  # (mode, delay seconds), one per delivery
    held: list[Delivery] = field(default_factory=list)
    sent: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, payload: dict[str, Any]) -> None:
        with self.lock:
            self.url = str(payload.get("url", self.url))
            self.secret = str(payload.get("secret", self.secret) or "")
            mode = payload.get("fault")
            if mode:
                count = int(payload.get("count", 1))
                self.faults.extend([(str(mode), float(payload.get("delay", 0.5)))] * count)

    def reset(self) -> None:
        with self.lock:
            self.url, self.secret = "", ""
            self.faults.clear()
            self.held.clear()
            self.sent.clear()

    def emit(self, data: dict[str, Any]) -> None:
        """Send one event (when a URL is set), with the signature and identifier Jira gives it."""
        if not self.url:
            return
        body = json.dumps(data).encode()
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        delivery = Delivery(body, headers)
        with self.lock:
            mode, delay = self.faults.pop(0) if self.faults else ("", 0.0)
            if mode == "hold":
                self.held.append(delivery)
        if mode == "drop":
            self.sent.append(delivery)
        elif mode == "delay":
            threading.Timer(delay, self.post, args=(delivery,)).start()
        elif mode != "hold":
            self.post(delivery)
            if mode == "duplicate":
                self.post(Delivery(body, headers))

    def release(self, reverse: bool = False) -> None:
        with self.lock:
            held, self.held = list(self.held), []
        for delivery in reversed(held) if reverse else held:
            self.post(delivery)

    def post(self, delivery: Delivery) -> None:
        request = urllib.request.Request(self.url, data=delivery.body, headers=delivery.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                delivery.status = response.status
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
        except OSError:
            delivery.status = 0
        with self.lock:
            self.sent.append(delivery)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "url": self.url,
                "held": len(self.held),
                "sent": [{"status": d.status, "body": json.loads(d.body)} for d in self.sent],
            }
