"""`servicenow`: incidents through `pysnow`, shaped the way a ServiceNow admin expects them.

Every HTTP exchange goes through `ServiceNowConnector._call`, the one place where what
`requests`/`pysnow` raised becomes an outbound error (classified by `gateway.core.outbound`).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
import msgspec
import pysnow
import pysnow.exceptions
import requests

from connectors.base import (
    AssignRequest,
    CommentRequest,
    CreateRequest,
    Inbound,
    RemoteChange,
    RemoteTicket,
    StatusRequest,
    cut,
)
from connectors.servicenow.config import (
    CLOSING,
    RECORD_FIELDS,
    SHORT_DESCRIPTION_LIMIT,
    STATES,
    ServiceNowTarget,
    _template,
    correlation_id,
)
from connectors.servicenow.inbound import journal_change, record_change, snow_time
from connectors.sessions import prepare_session
from gateway.core.outbound import ConnectorError, PermanentError, RetryableError, from_status, unexpected
from gateway.core.redact import Redactor, secret_values

T = TypeVar("T")
REFERENCES = ("assignment_group", "assigned_to", "caller_id")
SYS_ID = re.compile(r"[0-9a-f]{32}")
# The gateway's newest journal entries a retried note is looked for among (a retry after a lost answer).
RECENT_NOTES = 20
EMPTY_CLOSE_NOTES = "close_notes rendered empty: the gateway's default resolution notes were sent"
# Revision 0: inserted and never changed since, so nothing its link does not know. The gateway's own creates
# (6,000 a minute at 100 anomalies a second) were nearly the whole answer, and reading them stalled the instance.
CHANGED_SINCE_MADE = "sys_mod_count>0"
SNOW_TIME = "%Y-%m-%d %H:%M:%S"  # sys_updated_on through the Table API, UTC
FIRST_CURSOR_BACK_S = 3600.0  # by this gateway's clock: an instance's clock an hour behind is not plausible
POLLED_FIELDS = ["sys_id", "number", "state", "sys_mod_count", "sys_updated_by", "sys_updated_on"]
JOURNAL_FIELDS = ["sys_id", "element_id", "sys_created_by", "sys_created_on", "value"]
POLL_IDS = 100  # sys_ids per poll request: about 3.3 KB of query, well inside an instance's URL limit


class ServiceNowConnector:
    """One target's instance. Does not retry: the job runner does, from the error class."""

    def __init__(self, config: ServiceNowTarget) -> None:
        self.config = config
        self.states = {**STATES, **config.states}
        self.urgency_impact = {k.casefold(): v for k, v in config.urgency_impact.items()}
        self.by_priority = {k.casefold(): v for k, v in config.priority_to_urgency_impact.items()}
        self.close_notes = _template(config.close_notes)
        basic = base64.b64encode(f"{config.user}:{config.password}".encode()).decode()
        self._redact = Redactor([*secret_values(config), basic])
        parts = urlsplit(config.url)
        self.client = pysnow.Client(
            host=parts.netloc, use_ssl=parts.scheme == "https", user=config.user, password=config.password
        )
        prepare_session(self.client.session, config.url)

    # -- the Connector protocol ------------------------------------------------------------
    def create(self, request: CreateRequest) -> RemoteTicket:
        if not request.correlation_key.strip():
            raise PermanentError("ServiceNow create refused: empty correlation key (cannot stay idempotent)")
        key = correlation_id(request.correlation_key)
        found = None if request.first_try else self._find(key)
        if found is None:
            payload = self._incident(request, key)
            resource = self._resource(names=_names(payload))
            found = self._call("create", lambda: resource.create(payload=payload).one())
        return msgspec.structs.replace(self._remote(found), notes=self._create_notes(request))

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        return dict(self._incident(request, correlation_id(request.correlation_key)))

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        """The fields first, then the note in its own request: a retried field update (its answer lost,
        or a 5xx after the instance applied it) finds the state there and only the note is left to do,
        and a retried note is looked for in the journal first (as `comment` does)."""
        code = self._state(request.status)
        sys_id = _sys_id(request.link)
        current = self._read(sys_id)
        notes: list[str] = []
        if str(current.get("state")) != str(code):
            closing, notes = self._closing(request.status, request.number, request.note, request.event)
            current = self._patch("update status", sys_id, {"state": str(code), **closing})
        note = CommentRequest(number=request.number, link=request.link, text=request.note)
        self.comment(msgspec.structs.replace(note, first_try=request.first_try, since=request.since))
        return msgspec.structs.replace(self._remote(current), notes=notes)

    def comment(self, request: CommentRequest) -> None:
        """A work note; a retry (not `first_try`) writes it only when an earlier try's is not in the journal."""
        sys_id, text = _sys_id(request.link), journal_text(request.text)
        if text and (request.first_try or not self._noted(sys_id, "work_notes", text, request.since)):
            self._patch("comment", sys_id, {"work_notes": text})

    def assign(self, request: AssignRequest) -> RemoteTicket:
        return self._remote(self._patch("assign", _sys_id(request.link), {"assigned_to": request.assignee}))

    def _noted(self, sys_id: str, element: str, text: str, since: float) -> bool:
        """Is this text among the gateway's RECENT_NOTES newest `element` entries on the record, dated `since`
        or later? Then an earlier try of this execution wrote it and only the answer was lost. (The dates
        are compared here, in UTC as the Table API gives them: a date in the query would be read in the
        integration user's time zone.)"""
        query = f"element_id={sys_id}^element={element}^sys_created_by={self.config.user}^ORDERBYDESCsys_created_on"
        journal, fields = self._table("sys_journal_field"), ["value", "sys_created_on"]
        entries = self._call(
            "read journal", lambda: list(journal.get(query=query, limit=RECENT_NOTES, fields=fields).all())
        )
        return any(
            str(entry.get("value", "")).strip() == text.strip()
            and snow_time(str(entry.get("sys_created_on", ""))) >= since
            for entry in entries
        )

    def close(self) -> None:
        self.client.close()

    # -- two-way sync: reading what people did ---------------------------------------------
    def read_state(self, link: RemoteTicket) -> RemoteChange:
        record = self._call("read", lambda: dict(self._table().request("GET", path_append=f"/{_sys_id(link)}").one()))
        return record_change(record, current=True)

    def poll(self, links: list[RemoteTicket], since: str) -> tuple[list[Inbound], str]:
        """Linked incidents changed since `since` (sys_updated_on, inclusive) as they are now, and their
        journal entries since then, each its own delivery (deduped on its sys_id); and the next cursor.
        With a cursor, the incidents (with a correlation id) and journal entries changed since it, kept to the
        linked ones: a request per 100 open tickets made a minute's poll grow with the open tickets (at 5,000,
        a worker and the instance busy for most of a second: README, "Performance"). The first poll asks for
        the linked ones POLL_IDS at a time: thousands in one URL pass what an instance takes. With nothing linked
        yet the cursor starts FIRST_CURSOR_BACK_S before now: else the first poll after the first tickets read
        every one of them by id (at 100 anomalies a second, 6,000 in 120 requests, the instance stalled 2 s)."""
        floor = since or dt.datetime.fromtimestamp(time.time() - FIRST_CURSOR_BACK_S, dt.UTC).strftime(SNOW_TIME)
        if not links:
            return [], floor

        def read(table: str, query: str) -> list[dict[str, Any]]:  # only what record_change and journal_change read
            fields = JOURNAL_FIELDS if table else POLLED_FIELDS
            return [dict(row) for row in self._table(table).get(query=query, fields=fields).all()]

        started = time.monotonic()
        records: list[dict[str, Any]] = []
        journal: list[dict[str, Any]] = []
        if since:  # what changed since, one query each, kept to the linked
            known = {_sys_id(link) for link in links}
            changed = f"correlation_idISNOTEMPTY^{CHANGED_SINCE_MADE}^sys_updated_on>={since}^ORDERBYsys_updated_on"
            read_through = self._call("poll", partial(read, "", changed))
            records = [r for r in read_through if r.get("sys_id") in known]
            notes = f"elementINwork_notes,comments^sys_created_on>={since}^ORDERBYsys_created_on"
            entries = self._call("read journal", partial(read, "sys_journal_field", notes))
            journal = [e for e in entries if e.get("element_id") in known]
        else:  # the first poll: every linked one
            for first in range(0, len(links), POLL_IDS):
                ids = ",".join(_sys_id(link) for link in links[first : first + POLL_IDS])
                changed = f"sys_idIN{ids}^{CHANGED_SINCE_MADE}^ORDERBYsys_updated_on"
                records += self._call("poll", partial(read, "", changed))
                notes = f"element_idIN{ids}^elementINwork_notes,comments^ORDERBYsys_created_on"
                journal += self._call("read journal", partial(read, "sys_journal_field", notes))
            read_through = records
        records.sort(key=lambda r: str(r.get("sys_updated_on", "")))
        journal.sort(key=lambda e: str(e.get("sys_created_on", "")))
        found = [Inbound(changes=[record_change(r, current=True) for r in records])]
        found += [Inbound(delivery_id=f"journal:{e.get('sys_id', '')}", changes=[journal_change(e)]) for e in journal]
        # every record read counts, another integration's too: the cursor moved only with the linked ones, so
        # others' changes were read again each poll until one of the gateway's own changed
        newest = max([str(r.get("sys_updated_on", "")) for r in read_through] + [floor])
        if newest == floor:  # a first poll that found nothing changed since made starts from the floor too
            return found, floor
        # A record of an earlier chunk changed while later chunks were read is older than `newest`: step back
        # by the poll's length and a tick so the next poll reads it (what was seen again is in step, or deduped).
        back = math.ceil(time.monotonic() - started) + 1
        stepped = dt.datetime.fromtimestamp(snow_time(newest) - back, dt.UTC).strftime(SNOW_TIME)
        return found, max(stepped, floor)

    # -- payloads --------------------------------------------------------------------------
    def _incident(self, request: CreateRequest, key: str) -> dict[str, str]:
        """The create body; empty values are left out and priority is the instance's to derive."""
        fields = request.fields
        status = fields.status or "New"
        urgency, impact = self._urgency_impact(fields.urgency, fields.impact, fields.priority)
        payload = {
            "short_description": cut(fields.short_description, SHORT_DESCRIPTION_LIMIT),
            "description": fields.description,
            "urgency": urgency,
            "impact": impact,
            "category": fields.category,
            "subcategory": fields.subcategory,
            "assignment_group": fields.assignment_group,
            "assigned_to": fields.assigned_to,
            "caller_id": self.config.caller,
            "state": str(self._state(status)),
            "correlation_id": key,
            "correlation_display": request.number,
            # the data policy holds on insert too: a ticket created On Hold or Resolved carries what that asks
            **self._closing(status, request.number, "", request.event)[0],
        }
        return {name: value for name, value in payload.items() if value}

    def _create_notes(self, request: CreateRequest) -> list[str]:
        """What the gateway filled in or changed in a create, for the execution's result."""
        notes = []
        summary = request.fields.short_description
        if len(summary) > SHORT_DESCRIPTION_LIMIT:
            notes.append(
                f"short_description cut from {len(summary)} to {SHORT_DESCRIPTION_LIMIT} characters (the incident's"
                " limit)"
            )
        return notes + self._closing(request.fields.status or "New", request.number, "", request.event)[1]

    def _urgency_impact(self, urgency: str, impact: str, priority: str) -> tuple[str, str]:
        """Explicit urgency/impact win; a priority alone fills whichever is missing."""
        pair = ("", "")
        if priority and not (urgency and impact):
            found = self.by_priority.get(priority.casefold())
            if found is None and not priority.isdigit():
                raise PermanentError(f"priority {priority!r} is not in priority_to_urgency_impact")
            pair = (str(found[0]), str(found[1])) if found else pair
        return self._code("urgency", urgency) or pair[0], self._code("impact", impact) or pair[1]

    def _code(self, field: str, value: str) -> str:
        if not value or value.isdigit():
            return value
        code = self.urgency_impact.get(value.casefold())
        if code is None:
            raise PermanentError(
                f"{field} {value!r} is not in urgency_impact ({', '.join(self.config.urgency_impact)})"
            )
        return str(code)

    def _state(self, status: str) -> int:
        code = self.states.get(status)
        if code is None:
            raise PermanentError(f"status {status!r} has no ServiceNow state (known: {', '.join(self.states)})")
        return code

    def _closing(
        self, status: str, number: str, note: str, event: Mapping[str, Any]
    ) -> tuple[dict[str, str], list[str]]:
        """What the instance's rules ask for with this state, on a move or a create: close code + notes, hold
        reason; and what the gateway had to fill in itself, for the execution's result. Close notes that render
        blank (a template on a field the event lacks: a move from chat has no anomaly URL) would be refused by
        the data policy, so the gateway's own text goes instead, naming the ticket and its close code."""
        if status == "On Hold":
            return {"hold_reason": str(self.config.hold_reason)}, []
        if status not in CLOSING and status not in self.config.close_codes:
            return {}, []
        ticket = {"number": number, "status": status, "note": note}
        try:
            notes = self.close_notes.render(event=event, ticket=ticket)
        except jinja2.TemplateError as exc:
            raise PermanentError(f"close_notes template failed: {exc}") from None
        code = self.config.close_codes.get(status, self.config.close_code)
        if notes.strip():
            return {"close_code": code, "close_notes": notes}, []
        fallback = f"{number} {status} by the data-quality gateway ({code})." + (f" Note: {note}" if note else "")
        return {"close_code": code, "close_notes": fallback}, [EMPTY_CLOSE_NOTES]

    def _remote(self, record: Mapping[str, Any]) -> RemoteTicket:
        sys_id = str(record.get("sys_id", ""))
        return RemoteTicket(
            external_id=sys_id,
            external_key=str(record.get("number", "")),
            url=f"{self.config.instance_url}/nav_to.do?uri={self.config.table}.do?sys_id={sys_id}",
            remote_status=str(record.get("state", "")),
            remote_priority=str(record.get("priority", "")),
        )

    # -- HTTP ------------------------------------------------------------------------------
    def _resource(self, names: bool = False) -> Any:
        """A fresh resource per call: a reused one carries the last query and fields along. With `names`,
        the instance takes reference fields by display value (a group's name, a user's user_name)."""
        resource = self.client.resource(api_path=f"/table/{self.config.table}", timeout=self.config.timeout)
        resource.parameters.fields = RECORD_FIELDS
        if names:
            resource.parameters.add_custom({"sysparm_input_display_value": "true"})
        return resource

    def _table(self, table: str = "") -> Any:
        """A fresh resource on any table, reading every field (no RECORD_FIELDS)."""
        return self.client.resource(api_path=f"/table/{table or self.config.table}", timeout=self.config.timeout)

    def _find(self, key: str) -> dict[str, Any] | None:
        """The oldest incident carrying this correlation id, if any; an empty id would match any unlinked one."""
        if not key.strip():
            raise PermanentError("ServiceNow find refused: empty correlation id")
        query = f"correlation_id={key}^ORDERBYsys_created_on"
        records = self._call(
            "find", lambda: list(self._resource().get(query=query, limit=1, fields=RECORD_FIELDS).all())
        )
        return dict(records[0]) if records else None

    def _read(self, sys_id: str) -> dict[str, Any]:
        return self._call("read", lambda: dict(self._resource().request("GET", path_append=f"/{sys_id}").one()))

    def _patch(self, action: str, sys_id: str, payload: dict[str, str]) -> dict[str, Any]:
        body = {name: value for name, value in payload.items() if value}
        resource = self._resource(names=_names(body))
        return self._call(action, lambda: dict(resource.request("PATCH", path_append=f"/{sys_id}", json=body).one()))

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """Run one exchange (request and lazy parse together) and classify whatever it raised."""
        try:
            return call()
        except ConnectorError:
            raise
        except Exception as exc:
            raise self._redact.error(classify(f"ServiceNow {action}", exc)) from None


def classify(what: str, exc: Exception) -> RetryableError | PermanentError:
    """The one decision: is it worth trying again? The order of the checks is deliberate."""
    # requests' JSONDecodeError is also a RequestException (and a ValueError): check it first.
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return _not_json(what)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _from_status(what, exc.response)
    if isinstance(exc, requests.Timeout):
        return RetryableError(f"{what} failed: timed out")
    if isinstance(exc, requests.ConnectionError):
        return RetryableError(f"{what} failed: connection error ({type(exc).__name__})")
    # InvalidURL and friends are ValueErrors too, and no retry mends a bad URL.
    if isinstance(exc, requests.RequestException) and isinstance(exc, ValueError):
        return PermanentError(f"{what} failed: {type(exc).__name__} (check the target's url)")
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"{what} failed: {type(exc).__name__}")
    if isinstance(exc, pysnow.exceptions.ResponseError):
        return PermanentError(f"{what} failed: {exc.message}: {exc.detail}")
    if isinstance(exc, pysnow.exceptions.MissingResult | ValueError):
        return _not_json(what)
    return unexpected(f"{what} failed", exc)


def _not_json(what: str) -> RetryableError:
    return RetryableError(
        f"{what} failed: the answer is not the Table API's JSON (hibernating instance or a proxy page)"
    )


def _from_status(what: str, response: requests.Response) -> RetryableError | PermanentError:
    status = response.status_code
    reason = _error_text(response)
    if status == 401:
        reason = f"authentication failed: {reason}"
    return from_status(status, response.headers, f"{what} failed: HTTP {status}: {reason}")


def _error_text(response: requests.Response) -> str:
    """ServiceNow's `error.message: error.detail`, else a short slice of whatever came back."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if isinstance(error, dict) and (error.get("message") or error.get("detail")):
        return ": ".join(str(part).strip() for part in (error.get("message"), error.get("detail")) if part)
    return " ".join(response.text.split())[:200] or response.reason or "no body"


def _names(payload: Mapping[str, str]) -> bool:
    """Does a reference field carry a name rather than a sys_id?"""
    return any(payload.get(name) and not SYS_ID.fullmatch(payload[name]) for name in REFERENCES)


def _sys_id(link: RemoteTicket) -> str:
    if not SYS_ID.fullmatch(link.external_id):
        raise PermanentError(f"link has no ServiceNow sys_id (got {link.external_id!r})")
    return link.external_id


def build(config: ServiceNowTarget) -> ServiceNowConnector:
    return ServiceNowConnector(config)


_CODE_TAG = re.compile(r"\[(/?code)\]", re.IGNORECASE)


def journal_text(text: str) -> str:
    """Journal fields render `[code]...[/code]` as HTML: a zero-width space keeps payload text data."""
    return _CODE_TAG.sub("[\u200b\\1]", text)
