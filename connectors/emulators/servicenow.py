"""A loopback ServiceNow instance: the Table API with the rules of `reference/trackers.md`.

What it enforces, as a real instance does: basic auth; `{"result": ...}` wrapping and the
`{"error": {...}, "status": "failure"}` shape; priority derived from urgency x impact (the
lookup table is configurable) and never writable (the default ACL drops it silently, as it
drops unknown fields); Resolved/Closed need `close_code` + `close_notes` and On Hold needs
`hold_reason` (an admin's data policy may ask more: `mandatory`), answered like a data policy does
(403 "Operation Failed" / "Data Policy Exception"); work notes and comments go to a journal; a
reference field takes a sys_id, or a name only with `sysparm_input_display_value=true` (else the
name is stored, a broken reference). A string longer than its column (short_description 160,
correlation_id 100) is stored cut to it, without an error, as the instance's database does.
Encoded queries support `=`, `!=`, `LIKE`, `STARTSWITH`, `ISEMPTY`, `ISNOTEMPTY`, `IN`, `>`/`>=`/`<`/`<=`,
`ORDERBY`/`ORDERBYDESC`;
as on a real instance (glide.invalid_query.returns_no_rows=false), a condition on an unknown field is ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from connectors.emulators.base import Emulator, EmulatorHTTPServer, Request, Response

DEFAULT_USERS = {"sandbox": "sandbox-password"}
Record = dict[str, str]
# Default priority lookup: (urgency, impact) -> priority. 3/3 is 5 Planning in most releases.
DEFAULT_PRIORITIES: dict[tuple[str, str], str] = {
    ("1", "1"): "1",
    ("1", "2"): "2",
    ("2", "1"): "2",
    ("1", "3"): "3",
    ("2", "2"): "3",
    ("3", "1"): "3",
    ("2", "3"): "4",
    ("3", "2"): "4",
    ("3", "3"): "5",
}
INCIDENT_FIELDS = [
    "short_description",
    "description",
    "state",
    "urgency",
    "impact",
    "priority",
    "category",
    "subcategory",
    "assignment_group",
    "assigned_to",
    "caller_id",
    "correlation_id",
    "correlation_display",
    "close_code",
    "close_notes",
    "hold_reason",
    "work_notes",
    "comments",
    "active",
    "opened_at",
    "resolved_at",
    "resolved_by",
    "closed_at",
]
SYSTEM_FIELDS = (
    "sys_id",
    "number",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
)
# The incident's string columns with their dictionary max_length. The platform does not refuse a longer value
# (KB0685779: max_length is the database column's size, not a check): the column keeps what fits, the rest is
# lost without a word.
MAX_LENGTHS = {"short_description": 160, "correlation_id": 100}
READ_ONLY = {*SYSTEM_FIELDS, "priority", "active", "opened_at", "resolved_at", "resolved_by", "closed_at"}
JOURNAL_FIELDS = ("work_notes", "comments")
REFERENCES = {
    "assignment_group": "sys_user_group",
    "assigned_to": "sys_user",
    "caller_id": "sys_user",
    "resolved_by": "sys_user",
}
TABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "incident": (*SYSTEM_FIELDS, *INCIDENT_FIELDS),
    "sys_journal_field": ("sys_id", "element", "element_id", "name", "value", "sys_created_on", "sys_created_by"),
    "sys_user_group": ("sys_id", "name", "description", "active"),
    "sys_user": ("sys_id", "user_name", "name", "email", "active"),
    "sys_choice": ("sys_id", "name", "element", "value", "label", "dependent_value", "inactive"),
}
DISPLAY = {"sys_user_group": ("name",), "sys_user": ("user_name", "name")}
LABELS = {
    "close_code": "Resolution code",
    "close_notes": "Resolution notes",
    "hold_reason": "On hold reason",
    "assigned_to": "Assigned to",
    "assignment_group": "Assignment group",
    "category": "Category",
    "subcategory": "Subcategory",
    "description": "Description",
}
# The data policy the baseline incident ships with: state -> the fields it makes mandatory. An instance's
# admin may add more (many make Assigned to mandatory on Resolved): `ServiceNowEmulator.mandatory`.
MANDATORY = {"6": ("close_code", "close_notes"), "7": ("close_code", "close_notes"), "3": ("hold_reason",)}
SEED: dict[str, list[Record]] = {
    "sys_user_group": [
        {"name": "data-platform", "description": "Data platform on-call"},
        {"name": "Service Desk", "description": "First line"},
    ],
    "sys_user": [
        {"user_name": "dq.gateway", "name": "DQ Gateway", "email": "dq.gateway@example.com"},
        {"user_name": "jane.doe", "name": "Jane Doe", "email": "jane.doe@example.com"},
        {"user_name": "sandbox", "name": "Sandbox Integration", "email": "sandbox@example.com"},
    ],
}
# The incident choice lists a Utah-era instance ships with (plus the sandbox's data-quality category).
CHOICES: dict[str, list[tuple[str, str]]] = {
    "state": [
        ("1", "New"),
        ("2", "In Progress"),
        ("3", "On Hold"),
        ("6", "Resolved"),
        ("7", "Closed"),
        ("8", "Canceled"),
    ],
    "close_code": [
        (c, c)
        for c in (
            "Duplicate",
            "Known error",
            "No resolution provided",
            "Resolved by caller",
            "Resolved by change",
            "Resolved by problem",
            "Resolved by request",
            "Solution provided",
            "Workaround provided",
            "User error",
        )
    ],
    "hold_reason": [
        ("1", "Awaiting Caller"),
        ("5", "Awaiting Change"),
        ("3", "Awaiting Problem"),
        ("4", "Awaiting Vendor"),
    ],
    "urgency": [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")],
    "impact": [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")],
    "category": [
        ("inquiry", "Inquiry / Help"),
        ("software", "Software"),
        ("hardware", "Hardware"),
        ("network", "Network"),
        ("database", "Database"),
        ("data_quality", "Data Quality"),
    ],
    "subcategory": [("validation", "Validation"), ("freshness", "Freshness"), ("volume", "Volume")],
}
SEED["sys_choice"] = [
    {"name": "incident", "element": element, "value": value, "label": label, "inactive": "false"}
    for element, choices in CHOICES.items()
    for value, label in choices
]


def failure(status: int, message: str, detail: str | None = None) -> Response:
    """ServiceNow's error answer."""
    return Response(status, {"error": {"message": message, "detail": detail}, "status": "failure"})


class Rejected(Exception):
    """A request the instance refuses; carries the answer to send."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class ServiceNowEmulator(Emulator):
    """The instance. `priorities` replaces the (urgency, impact) -> priority lookup table."""

    name = "servicenow"

    def __init__(
        self, users: dict[str, str] | None = None, priorities: dict[tuple[str, str], str] | None = None
    ) -> None:
        super().__init__(users=DEFAULT_USERS if users is None else users)
        self.priorities = dict(DEFAULT_PRIORITIES if priorities is None else priorities)
        self.tables: dict[str, list[Record]] = {}
        self.journal: dict[str, list[dict[str, str]]] = {}
        self.next_number = 10001
        self._seed()
        table = r"/api/now/table/(?P<table>[A-Za-z0-9_]+)"
        self.route("GET", table, self._guarded(self.list_records))
        self.route("POST", table, self._guarded(self.create_record))
        self.route("GET", table + r"/(?P<sys_id>[^/]+)", self._guarded(self.get_record))
        self.route("PATCH", table + r"/(?P<sys_id>[^/]+)", self._guarded(self.update_record))
        self.route("PUT", table + r"/(?P<sys_id>[^/]+)", self._guarded(self.update_record))

    # -- state -----------------------------------------------------------------------------
    def _seed(self) -> None:
        self.tables = {name: [] for name in TABLE_FIELDS}
        for name, rows in SEED.items():
            for row in rows:
                self.tables[name].append({"sys_id": new_sys_id(), "active": "true", **row})
        self.journal = {}
        self.next_number = 10001
        self.mandatory: dict[str, tuple[str, ...]] = dict(MANDATORY)

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._seed()

    def state(self) -> Any:
        """Incidents as stored (references as sys_ids), each with its journal, for assertions."""
        with self.lock:
            return {
                "incidents": [
                    {**record, "journal": list(self.journal.get(record["sys_id"], []))}
                    for record in self.tables["incident"]
                ]
            }

    def snapshot(self) -> Any:
        return {"tables": self.tables, "journal": self.journal, "next_number": self.next_number}

    def restore(self, data: Any) -> None:
        with self.lock:
            self.tables = {name: list(rows) for name, rows in data.get("tables", {}).items()} or self.tables
            self.journal = dict(data.get("journal", {}))
            self.next_number = int(data.get("next_number", self.next_number))

    def incidents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.state()["incidents"]
        return result

    def lookup(self, table: str, display: str) -> str:
        """sys_id of the seeded group/user with this name ("" when there is none)."""
        return self._resolve(table, display) or ""

    def control(self, request: Request) -> Response | None:
        """Beside the base's: `POST /_emulator/act`, a person changing an incident in the UI."""
        handled = super().control(request)  # the control token first, then the base's own endpoints
        if handled is not None or not (request.method == "POST" and request.path == "/_emulator/act"):
            return handled
        return self.act(request.json() or {})

    def act(self, payload: dict[str, Any]) -> Response:
        """`{"incident": number or sys_id, "as": user, "state", "work_notes", "comments", ...}`; a person
        resolving fills the close code and notes the form asks for. sys_updated_on/by move as usual."""
        changes = dict(payload)
        ref, user = str(changes.pop("incident", "")), str(changes.pop("as", "jane.doe"))
        with self.lock:
            record = next((r for r in self.tables["incident"] if ref in (r["sys_id"], r["number"])), None)
            if record is None:
                return failure(404, "No Record found", ref)
            if str(changes.get("state")) in ("6", "7"):
                changes.setdefault("close_code", "Solution provided")
                changes.setdefault("close_notes", f"Closed by {user}")
            if str(changes.get("state")) == "3":
                changes.setdefault("hold_reason", "1")
            params = {"table": "incident", "sys_id": record["sys_id"]}
            path = f"/api/now/table/incident/{record['sys_id']}"
            shown = {"sysparm_input_display_value": ["true"]}  # a person picks people by name on the form
            fake = Request("PATCH", path, shown, {}, json.dumps(changes).encode(), params=params, user=user)
            try:
                return self.update_record(fake)
            except Rejected as rejected:
                return rejected.response

    # -- error shapes ----------------------------------------------------------------------
    def unauthenticated(self) -> Response:
        return failure(401, "User Not Authenticated", "Required to provide Auth information")

    def not_found(self, request: Request) -> Response:
        return failure(400, "Requested URI does not represent any resource", None)

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return failure(429, "Too many requests", "Rate limit exceeded for this user").body
        return failure(status, "Transaction cancelled", f"Injected fault: HTTP {status}").body

    # -- handlers --------------------------------------------------------------------------
    def _guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            if request.params["table"] not in self.tables:
                return failure(400, f"Invalid table {request.params['table']}", None)
            try:
                return handler(request)
            except Rejected as rejected:
                return rejected.response

        return run

    def list_records(self, request: Request) -> Response:
        rows = query(
            self.tables[request.params["table"]],
            request.arg("sysparm_query"),
            TABLE_FIELDS[request.params["table"]],
        )
        offset = _int_arg(request, "sysparm_offset", 0)
        limit = _int_arg(request, "sysparm_limit", 10000)
        return Response(200, {"result": [self._render(request, row) for row in rows[offset : offset + limit]]})

    def get_record(self, request: Request) -> Response:
        return Response(200, {"result": self._render(request, self._find(request))})

    def create_record(self, request: Request) -> Response:
        table = request.params["table"]
        record = {name: "" for name in TABLE_FIELDS[table]}
        now = _now()
        actor = self.lookup("sys_user", request.user)
        record.update(sys_id=new_sys_id(), sys_created_on=now, sys_updated_on=now, sys_mod_count="0")
        record.update(sys_created_by=request.user, sys_updated_by=request.user)
        if table == "incident":
            record.update(number=f"INC{self.next_number:07d}", state="1", urgency="3", impact="3")
            record.update(category="inquiry", active="true", opened_at=now)
        changes = self._writable(table, _body(request), _display_input(request))
        self._apply(table, record, changes, actor)
        self.tables[table].append(record)
        if table == "incident":
            self.next_number += 1
        self._journal(record, changes, request.user)
        return Response(
            201,
            {"result": self._render(request, record)},
            {"Location": self._link(request, table, record["sys_id"])},
        )

    def update_record(self, request: Request) -> Response:
        table = request.params["table"]
        record = self._find(request)
        changes = self._writable(table, _body(request), _display_input(request))
        updated = dict(record)
        self._apply(table, updated, changes, self.lookup("sys_user", request.user))
        updated.update(sys_updated_on=_now(), sys_updated_by=request.user)
        updated["sys_mod_count"] = str(int(record.get("sys_mod_count") or 0) + 1)
        record.update(updated)
        self._journal(record, changes, request.user)
        return Response(200, {"result": self._render(request, record)})

    # -- rules -----------------------------------------------------------------------------
    def _find(self, request: Request) -> Record:
        for record in self.tables[request.params["table"]]:
            if record["sys_id"] == request.params["sys_id"]:
                return record
        raise Rejected(failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"))

    def _writable(self, table: str, body: dict[str, Any], display: bool = False) -> Record:
        """Known, writable fields as strings; the rest is dropped without a word, like an ACL does.
        A reference is stored as given (a name is a broken reference) unless `display`
        (sysparm_input_display_value=true): then a name resolves through sys_user/sys_user_group
        and a choice label to its value, a value that is neither kept as is."""
        fields = TABLE_FIELDS[table]
        changes = {name: _text(value) for name, value in body.items() if name in fields and name not in READ_ONLY}
        if table == "incident":
            for name, length in MAX_LENGTHS.items():
                if name in changes:
                    changes[name] = changes[name][:length]
        if not display:
            return changes
        for name, ref_table in REFERENCES.items():
            if changes.get(name):
                changes[name] = self._resolve(ref_table, changes[name]) or changes[name]
        for row in self.tables.get("sys_choice", []):
            if row["name"] == table and changes.get(row["element"]) == row["label"]:
                changes[row["element"]] = row["value"]
        return changes

    def _apply(self, table: str, record: Record, changes: Record, actor: str) -> None:
        """Set the changes on `record` (a copy), then run the incident's rules; raises Rejected."""
        before = record.get("state", "")
        record.update({name: value for name, value in changes.items() if name not in JOURNAL_FIELDS})
        if table != "incident":
            return
        missing = [LABELS.get(name, name) for name in self.mandatory.get(record["state"], ()) if not record.get(name)]
        if missing:
            detail = "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(missing) + "\n"
            raise Rejected(failure(403, "Operation Failed", detail))
        record["priority"] = self.priorities.get((record["urgency"], record["impact"]), "5")
        if record["state"] != before:
            self._moved(record, before, actor)

    def _moved(self, record: Record, before: str, actor: str) -> None:
        """What the instance's business rules do on a state change."""
        now = _now()
        if before == "3":
            record["hold_reason"] = ""
        if record["state"] == "6":
            record.update(resolved_at=now, resolved_by=actor)
        if record["state"] == "7":
            record["closed_at"] = now
        record["active"] = "false" if record["state"] in ("7", "8") else "true"

    def _journal(self, record: Record, changes: Record, user: str) -> None:
        for element in JOURNAL_FIELDS:
            if changes.get(element):
                entry = {
                    "element": element,
                    "value": changes[element],
                    "sys_created_by": user,
                    "sys_created_on": _now(),
                }
                self.journal.setdefault(record["sys_id"], []).append(entry)
                row = {"sys_id": new_sys_id(), "element_id": record["sys_id"], "name": "incident", **entry}
                self.tables["sys_journal_field"].append(row)

    def _resolve(self, table: str, value: str) -> str | None:
        for row in self.tables.get(table, []):
            if value == row["sys_id"] or any(value == row.get(name) for name in DISPLAY.get(table, ())):
                return row["sys_id"]
        return None

    # -- rendering -------------------------------------------------------------------------
    def _render(self, request: Request, record: Record) -> dict[str, Any]:
        """sysparm_fields selects; references come as {link, value} unless links are excluded."""
        wanted = [name for name in request.arg("sysparm_fields").split(",") if name.strip()]
        names = [name.strip() for name in wanted] or list(record)
        no_links = request.arg("sysparm_exclude_reference_link").lower() == "true"
        result: dict[str, Any] = {}
        for name in names:
            value = record.get(name, "")
            if name in REFERENCES and value and not no_links:
                result[name] = {"link": self._link(request, REFERENCES[name], value), "value": value}
            else:
                result[name] = value
        return result

    def _link(self, request: Request, table: str, sys_id: str) -> str:
        return f"http://{request.headers.get('host', '127.0.0.1')}/api/now/table/{table}/{sys_id}"


def query(rows: list[Record], encoded: str, fields: tuple[str, ...]) -> list[Record]:
    """Rows matching an encoded query (`a=b^c!=d^ORDERBYe`); `^^` is a literal caret."""
    terms = [term.replace("\0", "^") for term in encoded.replace("^^", "\0").split("^") if term]
    tests = [_term(term, fields) for term in terms]  # parsed once, not once per row
    matched = [row for row in rows if all(test(row) for test in tests)]
    for term in reversed([t for t in terms if t.startswith("ORDERBY")]):
        descending = term.startswith("ORDERBYDESC")
        name = term.removeprefix("ORDERBYDESC") if descending else term.removeprefix("ORDERBY")
        matched.sort(key=lambda row: row.get(name, ""), reverse=descending)
    return matched


OPERATORS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("!=", lambda have, want: have != want),
    ("STARTSWITH", lambda have, want: have.startswith(want)),
    ("LIKE", lambda have, want: want.lower() in have.lower()),
    ("=", lambda have, want: have == want),
    # two-way sync's poll: after the plain ones, so `a=b` never reads as a comparison
    (">=", lambda have, want: _compare(have, want) >= 0),
    ("<=", lambda have, want: _compare(have, want) <= 0),
    (">", lambda have, want: _compare(have, want) > 0),
    ("<", lambda have, want: _compare(have, want) < 0),
    ("NOT IN", lambda have, want: have not in want.split(",")),
    ("IN", lambda have, want: have in want.split(",")),
]


def _compare(have: str, want: str) -> int:
    """-1, 0 or 1: an integer field (sys_mod_count) compares as a number, as the instance does ("10" > "9");
    a date-time compares as text, which its fixed shape orders."""
    if have.isdigit() and want.isdigit():
        return (int(have) > int(want)) - (int(have) < int(want))
    return (have > want) - (have < want)


def _term(term: str, fields: tuple[str, ...]) -> Callable[[Record], bool]:
    """One query term as a test of a row (an IN list becomes a set: a poll names thousands of ids)."""
    if term.startswith("ORDERBY"):
        return lambda row: True
    if term.startswith(("OR", "NQ")):
        raise Rejected(failure(400, "Emulator: OR / NQ queries are not supported", term))
    for suffix, wanted in (("ISEMPTY", True), ("ISNOTEMPTY", False)):
        name = term[: -len(suffix)]
        if term.endswith(suffix) and name in fields:
            return lambda row: (not row.get(name, "")) is wanted
    for operator, test in OPERATORS:
        name, found, value = term.partition(operator)
        if found and name.isidentifier():
            if name not in fields:
                return lambda row: True
            if operator in ("IN", "NOT IN"):
                members, inside = frozenset(value.split(",")), operator == "IN"
                return lambda row: (row.get(name, "") in members) is inside
            return lambda row: test(row.get(name, ""), value)
    raise Rejected(failure(400, "Emulator: unsupported query term", term))


def new_sys_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    """Field values as the instance stores them: strings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _text(value.get("value", ""))
    return str(value)


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise Rejected(failure(400, "Exception while reading request", "The payload is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise Rejected(failure(400, "Exception while reading request", "The payload must be a JSON object."))
    return body


def _display_input(request: Request) -> bool:
    return request.arg("sysparm_input_display_value").lower() == "true"


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    return int(raw) if raw.isdigit() else default


def serve(
    host: str = "127.0.0.1",
    port: int = 9002,
    users: dict[str, str] | None = None,
    control_token: str | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Run an instance until interrupted (`gateway emulate servicenow --port 9002`); `ready` hears its port."""
    emulator = ServiceNowEmulator(users=users)
    emulator.control_token = control_token or emulator.control_token
    server = EmulatorHTTPServer(emulator, host, port)
    if ready is not None:
        ready(server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
