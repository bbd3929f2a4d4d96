"""The console's New ticket page: the catalog, a form with only the item's open fields, both trackers."""

from __future__ import annotations

import re

from tests.chatops.support import CHAT_SETTINGS, TRACKER_ENV, Trackers, chat_files
from tests.conftest import Harness, MakeHarness
from tests.people.test_user_tickets import CATALOG

TOKEN = "console-new-ticket-token-0123456789"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def catalog_gateway(make_gateway: MakeHarness, trackers: Trackers) -> Harness:
    """A gateway with the catalog, both trackers and a token; signed in to the console."""
    gateway = make_gateway(chat_files(trackers, chatops=CATALOG), env=TRACKER_ENV, api_token=TOKEN, **CHAT_SETTINGS)
    form = gateway.client.get("/ui/login")
    signed = gateway.client.post(
        "/ui/login", data={"csrf": csrf_of(form.text), "token": TOKEN, "next_path": "/ui"}, follow_redirects=False
    )
    assert signed.status_code == 303
    return gateway


def test_a_person_files_a_catalog_ticket_from_the_console(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    listing = gateway.client.get("/ui/new")
    assert listing.status_code == 200
    assert 'href="/ui/new/broken-dashboard">A dashboard shows wrong numbers</a>' in listing.text
    form = gateway.client.get("/ui/new/broken-dashboard")
    names = re.findall(r'name="(\w+)"', form.text.split('action="/ui/new/broken-dashboard"', 1)[1])
    assert [n for n in names if n not in ("csrf", "once")] == [
        "short_description",
        "description",
    ]  # only the open fields
    filed = gateway.client.post(
        "/ui/new/broken-dashboard",
        data={"csrf": csrf_of(form.text), "short_description": "Revenue tile shows 0 <b>", "description": "Since 9"},
        follow_redirects=False,
    )
    assert filed.status_code == 303 and filed.headers["location"] == "/ui/tickets/DQ-1"
    ticket = gateway.ticket("DQ-1")
    assert (ticket["source"], ticket["requester"]) == ("user", "console")
    gateway.drain()
    [issue], [incident] = emulators.issues(), emulators.incidents()
    assert issue["fields"]["summary"] == "Revenue tile shows 0 <b>"
    assert issue["fields"]["priority"] == {"name": "High"}  # the item's default, not the person's
    assert incident["short_description"] == "Revenue tile shows 0 <b>"
    page = gateway.client.get("/ui/tickets/DQ-1").text
    assert "Revenue tile shows 0 &lt;b&gt;" in page  # a person's text is data on the page too


def test_a_field_the_item_does_not_open_is_refused_naming_it(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    form = gateway.client.get("/ui/new/broken-dashboard")
    refused = gateway.client.post(
        "/ui/new/broken-dashboard",
        data={"csrf": csrf_of(form.text), "short_description": "x", "priority": "Critical"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "priority" in refused.text
    assert not gateway.tickets()


def test_filing_without_the_csrf_token_is_403(make_gateway: MakeHarness, emulators: Trackers) -> None:
    gateway = catalog_gateway(make_gateway, emulators)
    gateway.client.get("/ui/new/broken-dashboard")
    refused = gateway.client.post("/ui/new/broken-dashboard", data={"short_description": "x"}, follow_redirects=False)
    assert refused.status_code == 403 and not gateway.tickets()
