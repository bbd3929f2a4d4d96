"""`gateway check --live` for a ServiceNow target: read-only Table API calls against the instance.

Choice values are read from `sys_choice` for the target's table (they differ per instance and release);
people and groups from `sys_user` / `sys_user_group`, by user name, name or sys_id.
"""

from __future__ import annotations

from typing import Any

import requests

from connectors.base import FieldValues, Finding, LiveReport
from connectors.servicenow.config import STATES, ServiceNowTarget
from gateway.core.redact import Redactor, secret_values

USER_COLUMNS: tuple[str, ...] = ("user_name", "name", "sys_id")
PEOPLE = {"assignment_group": ("sys_user_group", ("name", "sys_id")), "assigned_to": ("sys_user", USER_COLUMNS)}


class Refused(Exception):
    """The instance answered a read with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check(config: ServiceNowTarget, values: FieldValues) -> LiveReport:
    """`values`: what the flows can render per ticket field (category, groups, assignees) for this target."""
    session = requests.Session()
    session.auth = (config.user, str(config.password))
    session.headers["Accept"] = "application/json"
    try:
        return _Doctor(config, session, values).run()
    except (requests.RequestException, Refused, ValueError) as exc:
        problem = Redactor(secret_values(config))(f"live check: {_describe(exc)}")
        return LiveReport(findings=[Finding(field="url", given=config.url, offers="", problem=problem)])
    finally:
        session.close()


def _describe(exc: Exception) -> str:
    if isinstance(exc, Refused):
        return f"the instance refused a read (HTTP {exc.status}: {exc})"
    if isinstance(exc, requests.Timeout):
        return "the instance did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "could not reach the instance"
    return f"unreadable answer from the instance ({type(exc).__name__})"


class _Doctor:
    def __init__(self, config: ServiceNowTarget, session: requests.Session, values: FieldValues) -> None:
        self.config, self.session, self.values = config, session, values
        self.findings: list[Finding] = []

    def rows(self, table: str, query: str, fields: str, limit: int = 1000) -> list[dict[str, Any]]:
        params = {"sysparm_query": query, "sysparm_fields": fields, "sysparm_limit": str(limit)}
        response = self.session.get(
            f"{self.config.instance_url}/api/now/table/{table}", params=params, timeout=self.config.timeout
        )
        if response.status_code >= 400:
            try:
                message = str((response.json().get("error") or {}).get("message", ""))
            except ValueError:
                message = ""
            raise Refused(response.status_code, message or response.reason)
        result: list[dict[str, Any]] = response.json().get("result") or []
        return result

    def find(self, field: str, given: str, offers: list[str], problem: str) -> None:
        self.findings.append(Finding(field=field, given=given, offers=", ".join(offers) or "nothing", problem=problem))

    def run(self) -> LiveReport:
        try:
            self.rows("sys_user", f"user_name={_q(self.config.user)}", "sys_id", 1)
        except Refused as refused:
            if refused.status not in (401, 403):
                raise
            what = "refused the credentials" if refused.status == 401 else "denied reading sys_user"
            self.find("user/password", self.config.user, [], f"the instance {what} (HTTP {refused.status})")
            return LiveReport(findings=self.findings)
        table = self.config.table
        try:
            self.rows(table, "", "sys_id", 1)
        except Refused as refused:
            if refused.status not in (400, 404):
                raise
            self.find("table", table, [], f"no such table on this instance ({refused})")
            return LiveReport(findings=self.findings)
        checked = self._check_choices() + self._check_people()
        return LiveReport(findings=self.findings, summary=f"{table}: {checked} mapped values found on the instance")

    def _wanted(self) -> dict[str, list[tuple[str, str]]]:
        """sys_choice element -> (mapping key, value) pairs the mapping will send."""
        config = self.config
        states = {**STATES, **config.states}
        pairs = [(f"states.{k}", str(v)) for k, v in states.items()]
        return {
            "state": pairs,
            "close_code": [("close_code", config.close_code)]
            + [(f"close_codes.{k}", v) for k, v in config.close_codes.items()],
            "hold_reason": [("hold_reason", str(config.hold_reason))],
            "urgency": [(f"urgency_impact.{k}", str(v)) for k, v in config.urgency_impact.items()]
            + [(f"priority_to_urgency_impact.{k}", str(u)) for k, (u, _) in config.priority_to_urgency_impact.items()],
            "impact": [(f"urgency_impact.{k}", str(v)) for k, v in config.urgency_impact.items()]
            + [(f"priority_to_urgency_impact.{k}", str(i)) for k, (_, i) in config.priority_to_urgency_impact.items()],
            "category": [("category", v) for v in sorted(self.values.get("category", set()))],
            "subcategory": [("subcategory", v) for v in sorted(self.values.get("subcategory", set()))],
        }

    def _check_choices(self) -> int:
        checked = 0
        for element, wanted in self._wanted().items():
            if not wanted:
                continue
            query = f"name={_q(self.config.table)}^element={element}^inactive=false"
            choices = self.rows("sys_choice", query, "value,label")
            if not choices:
                continue  # the instance lists no choices for this column: any value goes
            offered = {str(c.get("value")) for c in choices}
            listing = [f"{c.get('value')} ({c.get('label')})" for c in choices]
            for key, value in dict.fromkeys(wanted):
                checked += 1
                if value not in offered:
                    self.find(key, value, listing, f"not a choice of {self.config.table}.{element} (sys_choice)")
        return checked

    def _check_people(self) -> int:
        caller = self.config.caller
        wanted: list[tuple[str, str, tuple[str, ...], str]] = (
            [("caller", "sys_user", USER_COLUMNS, caller)] if caller else []
        )
        for name, (table, columns) in PEOPLE.items():
            wanted += [(name, table, columns, v) for v in sorted(self.values.get(name, set()))]
        for key, table, columns, value in wanted:
            if not any(self.rows(table, f"{column}={_q(value)}", "sys_id", 1) for column in columns):
                self.find(key, value, [], f"no {table} record with this {' or '.join(columns)}")
        return len(wanted)


def _q(value: str) -> str:
    """A value inside an encoded query: `^` is the separator, doubled to be literal."""
    return value.replace("^", "^^")
