"""Chat-ops endpoints: Slack slash commands through slack-bolt, and Teams outgoing webhooks.

Both verify the raw body before anything is parsed, then run the shared commands of
`gateway.web.chatops`. Nothing of a request (signing secret, tokens, response_url) reaches the log:
Bolt gets a logger that passes warnings only, and the outcome is posted with httpx, not slack_sdk.
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import msgspec
from litestar import MediaType, Request, Response, post
from litestar.datastructures import State
from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier

from gateway.core.errors import InvalidPayload, Unauthorized, Unavailable
from gateway.core.http import post_json
from gateway.core.outbound import ConnectorError
from gateway.dispatch.queue import Dispatcher
from gateway.notify.markup import TEAMS
from gateway.receive.security import hmac_b64, same
from gateway.record.runtime import Runtime
from gateway.web import chatops
from gateway.web.replay import REPLAY_TEXT, SLACK_TRIGGER_WINDOW_S, SLACK_WINDOW_S, TEAMS_WINDOW_S, SeenRequests
from gateway.web.routes.bodies import documented_body
from gateway.web.routes.common import DispatcherDep, RuntimeDep, decode, headers_of, in_thread, read_body

log = logging.getLogger("gateway.web.chatops")
RESPONSE_URL_TIMEOUT = 10.0


class _WarningsOnly(logging.Filter):
    """Bolt logs whole request bodies (response_url, legacy token) at INFO, whatever levels a test sets."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_bolt_log = logging.getLogger("gateway.web.chatops.bolt")
_bolt_log.setLevel(logging.WARNING)
_bolt_log.addFilter(_WarningsOnly())


def _not_configured(variable: str) -> Unavailable:
    return Unavailable(f"set {variable} to use this endpoint", code="chatops_not_configured")


# -- Slack --------------------------------------------------------------------------------
class Followups:
    """Outcome posts to Slack's response_url, each from its own thread once its executions finish."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()  # the app shut down: what still waits posts nothing

    def start(self, rt: Runtime, reply: chatops.Reply, response_url: str) -> None:
        thread = threading.Thread(target=_post_outcome, args=(rt, reply, response_url, self.stopped), daemon=True)
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the pending outcome posts (tests, shutdown)."""
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout)


def _post_outcome(rt: Runtime, reply: chatops.Reply, response_url: str, stopped: threading.Event) -> None:
    """Wait for the command's executions (or the configured wait), then tell the person how it went."""
    wait = rt.mappings.chatops.response_wait
    try:
        chatops.wait_for(rt, reply.executions, rt.settings.notify_wait_seconds if wait is None else wait, stopped)
        if stopped.is_set():
            return
        text = chatops.outcome_text(rt, reply)
        answer = {"response_type": "ephemeral", "replace_original": False, "text": text}
        post_json(response_url, answer, what="Slack response_url", timeout=RESPONSE_URL_TIMEOUT)
    except ConnectorError as exc:
        log.warning("could not post a command's outcome to Slack: %s", exc.message)
    except Exception as exc:  # a background thread: report the kind of failure, nothing of the request
        log.error("posting a command's outcome failed: %s", type(exc).__name__)
    finally:
        rt.mirror.close()


def _is_slack_url(url: str) -> bool:
    """Only https URLs of slack.com take the outcome: a response_url is never a way to reach elsewhere."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme == "https" and (parsed.host == "slack.com" or parsed.host.endswith(".slack.com"))


def _authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
    """Offline: slash commands need no Slack Web API call, so Bolt never asks Slack (auth.test)."""
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)


def _slack_answer(rt: Runtime, queue: Dispatcher | None, followups: Followups, command: Mapping[str, Any]) -> str:
    """Run one slash command; its immediate answer, with the outcome to follow."""
    user = command.get("user_name") or command.get("user_id") or "unknown"
    caller = chatops.caller(rt, f"slack:{user}", str(command.get("user_id", "")))
    reply = chatops.run(rt, queue, html.unescape(command.get("text", "")), caller)
    response_url = str(command.get("response_url", ""))
    if reply.executions and _is_slack_url(response_url):
        followups.start(rt, reply, response_url)
        reply.text += " I'll post the outcome here when the trackers have answered."
    elif reply.executions:
        log.warning("a slash command came without a usable response_url; its outcome is not posted")
    return reply.text


def build_slack_app(rt: Runtime, queue: Dispatcher | None, followups: Followups, secret: str) -> App:
    """A Bolt app that works offline and answers every slash command with the shared commands."""
    for name in ("slack_bolt", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)
    app = App(
        signing_secret=secret,
        authorize=_authorize,
        token_verification_enabled=False,
        process_before_response=True,  # the command runs (quickly) before the ack; the outcome comes later
        url_verification_enabled=False,
        logger=_bolt_log,
    )

    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=_slack_answer(rt, queue, followups, command), response_type="ephemeral")

    def on_error(error: Exception) -> None:
        log.error("a slash command failed: %s", type(error).__name__)

    app.command(re.compile(r".+"))(on_command)
    app.error(on_error)
    return app


def _slack(state: State, rt: Runtime, queue: Dispatcher | None, secret: str) -> App:
    """One Bolt app per gateway app, built on first use (on the event loop, so no race)."""
    app: App | None = getattr(state, "slack_app", None)
    if app is None:
        state.slack_followups = Followups()
        app = state.slack_app = build_slack_app(rt, queue, state.slack_followups, secret)
    return app


def _seen(state: State, queue: Dispatcher | None) -> SeenRequests:
    """The app's record of chat signatures (in Redis when the gateway has one)."""
    seen: SeenRequests | None = getattr(state, "seen_requests", None)
    if seen is None:
        seen = state.seen_requests = SeenRequests(queue.queue.connection if queue is not None else None)
    return seen


def _bad_signature() -> Unauthorized:
    return Unauthorized(
        "the Slack signature does not match, or its timestamp is over 5 minutes old", code="bad_signature"
    )


def _only_commands() -> InvalidPayload:
    return InvalidPayload("this endpoint takes Slack slash commands only", code="unsupported_slack_request")


def _form(body: bytes) -> dict[str, list[str]] | None:
    """The form's fields; None for more fields than any slash command has."""
    try:
        return urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)
    except ValueError:
        return None


def _seen_key(form: dict[str, list[str]], signature: str) -> tuple[str, int]:
    """What makes a command the same command: Slack's trigger_id names one invocation, and a retry of it
    (X-Slack-Retry-Num) is signed again with a new timestamp; without one, the signature."""
    trigger = (form.get("trigger_id") or [""])[0]
    return (f"trigger:{trigger}", SLACK_TRIGGER_WINDOW_S) if trigger else (signature, SLACK_WINDOW_S)


def _dispatch(app: App, body: bytes, query: str, headers: dict[str, str]) -> BoltResponse:
    """Bolt wants the body as text and lower-case headers; it verifies the raw text before parsing."""
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    return app.dispatch(BoltRequest(body=body.decode("utf-8", "replace"), query=query, headers=bolt_headers))


@post("/slack/commands", status_code=200, operation_class=documented_body(media="application/x-www-form-urlencoded"))
async def slack_commands(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> Response[bytes]:
    """A Slack slash command: Bolt checks its signature and age, the command runs, the ack says so."""
    secret = rt.settings.slack_signing_secret
    if not secret:
        raise _not_configured("SLACK_SIGNING_SECRET")
    body = await read_body(request, rt.settings.max_body_bytes)
    timestamp = request.headers.get("x-slack-request-timestamp")
    # Bolt int()s a timestamp it is given (an empty one too: its ValueError read as "not a slash command")
    if timestamp is not None and not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthorized("X-Slack-Request-Timestamp is not a number of seconds", code="bad_timestamp")
    signature = request.headers.get("x-slack-signature", "")
    if not (timestamp and signature and SignatureVerifier(secret).is_valid(body, timestamp, signature)):
        raise _bad_signature()  # before the body is looked at: an unsigned request learns nothing of it
    form = _form(body)
    if form is None or "payload" in form:  # interactive components and shortcuts come as `payload=<json>`:
        raise _only_commands()  # Bolt would json-parse it (any depth) before finding no listener for it
    if not _seen(request.app.state, dispatch).first_time("slack", *_seen_key(form, signature)):
        replay = {"response_type": "ephemeral", "text": REPLAY_TEXT}
        return Response(content=msgspec.json.encode(replay), media_type=MediaType.JSON)
    app = _slack(request.app.state, rt, dispatch, secret)
    answer = await in_thread(_dispatch, app, body, request.url.query, headers_of(request))
    if answer.status == 401:
        raise _bad_signature()
    if answer.status != 200:  # 404: Bolt found no listener (events, shortcuts); 400: unreadable
        raise _only_commands()
    return Response(content=(answer.body or "").encode(), media_type=MediaType.JSON)


# -- Teams --------------------------------------------------------------------------------
class TeamsUser(msgspec.Struct):
    name: str = ""
    aad_object_id: str = msgspec.field(name="aadObjectId", default="")


class TeamsActivity(msgspec.Struct):
    """The parts of an outgoing-webhook activity the commands use (Teams sends many more)."""

    type: str
    text: str = ""
    sender: TeamsUser = msgspec.field(name="from", default_factory=TeamsUser)
    recipient: TeamsUser | None = None  # the outgoing webhook itself: its name is what people @mention


def check_teams_signature(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """`Authorization: HMAC <base64 HMAC-SHA256(base64-decoded security token, raw body)>`; the signature.

    The replay check keys on the signature, not the header: `hmac <sig>` or `HMAC  <sig>` is the same request."""
    try:
        key = base64.b64decode(secret, validate=True)
    except binascii.Error:
        raise Unavailable(
            "TEAMS_OUTGOING_SECRET must be the base64 security token Teams showed", code="chatops_not_configured"
        ) from None
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "hmac" or not given.strip():
        raise Unauthorized("missing Authorization: HMAC <signature> header", code="missing_signature")
    if not same(given.strip(), hmac_b64(key, body)):
        raise Unauthorized("the Teams HMAC signature does not match", code="bad_signature")
    return given.strip()


@post("/teams/messages", status_code=200, operation_class=documented_body())
async def teams_messages(request: Request[Any, Any, Any], rt: RuntimeDep, dispatch: DispatcherDep) -> dict[str, str]:
    """A Teams @mention: the signature first, then the command; the reply is in the response body. Only a
    `message` activity runs a command: any other type (conversationUpdate, messageReaction, invoke) is answered
    200 with nothing to post, whatever text it carries."""
    secret = rt.settings.teams_outgoing_secret
    if not secret:
        raise _not_configured("TEAMS_OUTGOING_SECRET")
    body = await read_body(request, rt.settings.max_body_bytes)
    headers = headers_of(request)
    signature = check_teams_signature(headers, body, secret)
    if not _seen(request.app.state, dispatch).first_time("teams", signature, TEAMS_WINDOW_S):
        return {"type": "message", "text": REPLAY_TEXT}
    activity = decode(body, TeamsActivity)
    if activity.type != "message":  # a member added, a reaction, a card's invoke: acknowledged, nobody asked
        return {}
    who = activity.sender.name or activity.sender.aad_object_id or "unknown"
    bot = (activity.recipient.name if activity.recipient else "") or "DQ Gateway"
    caller = chatops.caller(rt, f"teams:{who}", activity.sender.aad_object_id, TEAMS, invocation=f"@{bot}")
    reply = await in_thread(chatops.run, rt, dispatch, chatops.teams_text(activity.text, bot), caller)
    return {"type": "message", "text": reply.text}
