"""The ops console in a real browser, against `gateway serve`, the loopback trackers and a worker process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from connectors.emulators.base import Fault
from tests.conftest import QUALYTICS_SECRET, Trackers, qualytics_delivery
from tests.e2e.browser import Browser, start_browser
from tests.e2e.conftest import Served

TOKEN = "console-test-token-0123456789"
HEADERS = {"x-qualytics-secret": QUALYTICS_SECRET, "content-type": "application/json"}
DOCS = Path(__file__).parents[2] / "docs"
# Jira fails fast here: two attempts, short waits, so a failure shows in seconds.
FAST_JIRA = "    retry: {attempts: 2, initial: 0.05, max: 0.1, deadline: 30}"


@pytest.fixture
def browser() -> Iterator[Browser]:
    yield from start_browser()


def webhook(served: Served, anomaly_id: int, **anomaly: object) -> None:
    body = json.dumps(qualytics_delivery(anomaly_id, **anomaly)).encode()
    response = httpx.post(f"{served.url}/v1/webhooks/qualytics", content=body, headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text


def sign_in(browser: Browser, served: Served) -> None:
    browser.open(f"{served.url}/ui")
    assert browser.driver.current_url.startswith(f"{served.url}/ui/login")
    browser.find("#token").send_keys(TOKEN)
    browser.click("Sign in")
    browser.wait_for(lambda: browser.find("h1").text == "Overview", "the overview after signing in")


def jira_faults(trackers: Trackers, on: bool) -> None:
    url = f"{trackers.jira_server.url}/_emulator/faults"
    control = {"X-Emulator-Token": trackers.jira.control_token}
    if on:
        fault = {"kind": "status", "status": 500, "count": 1000, "method": "POST"}
        assert httpx.post(url, json=fault, headers=control, timeout=5).status_code == 204
    else:
        assert httpx.delete(url, headers=control, timeout=5).status_code == 204


def status_of_row(browser: Browser, target: str) -> str:
    """The status shown in the executions table for this target's row ('' while there is none)."""
    for row in browser.all("#live tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        if len(cells) > 2 and cells[2].text == target:
            return str(cells[0].text)
    return ""


def maybe_screenshot(browser: Browser, name: str) -> None:
    """`CONSOLE_SCREENSHOTS=1 make unit` refreshes the README's pictures."""
    if os.environ.get("CONSOLE_SCREENSHOTS"):
        browser.screenshot(DOCS / f"console-{name}.png")


def test_sign_in_see_a_ticket_appear_and_read_its_timeline(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    browser.open(f"{served.url}/ui/tickets")
    assert "No tickets yet." in browser.text()

    webhook(served, 1, description="<script>window.pwned = 1</script> amounts out of range")
    browser.wait_for(lambda: browser.all("a[href='/ui/tickets/DQ-1']"), "DQ-1 in the ticket list")
    browser.click(css="a[href='/ui/tickets/DQ-1']")
    browser.wait_for(lambda: browser.find("h1").text.startswith("DQ-1"), "the DQ-1 page")
    browser.wait_for(lambda: "INC0010001" in browser.text(".links"), "the ServiceNow link")
    browser.wait_for(lambda: "DQ-1" in browser.text(".links") or "linked" in browser.text(".timeline"), "links")
    timeline = browser.text(".timeline")
    assert "opened by gateway" in timeline
    assert "linked by gateway" in timeline
    # the payload's markup is text on the page, never run
    assert "<script>window.pwned = 1</script> amounts out of range" in browser.text(".fields")
    assert browser.driver.execute_script("return window.pwned") is None
    maybe_screenshot(browser, "ticket")

    browser.open(f"{served.url}/ui/events")
    browser.find("details summary").click()
    assert "<script>window.pwned = 1</script>" in browser.text("pre.payload")
    assert QUALYTICS_SECRET not in browser.driver.page_source
    browser.open(f"{served.url}/ui")
    maybe_screenshot(browser, "overview")
    assert browser.console_errors() == []  # nothing refused by the pages' content security policy, no script error
    browser.open(f"{served.url}/schema")
    browser.wait_for(lambda: browser.all(".swagger-ui .info"), "the Swagger UI at /schema")
    assert browser.foreign_requests(served.url) == []
    recorded = browser.record()  # the recording sees the pages' own assets, so an empty list above means something
    assert f"{served.url}/ui/static/htmx.min.js" in recorded
    assert f"{served.url}/ui/static/swagger/swagger-ui-bundle.js" in recorded


def test_a_failed_jira_call_shows_with_its_error_and_retry_makes_it_succeed(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(trackers.mappings(jira_extra=FAST_JIRA), GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    jira_faults(trackers, on=True)
    webhook(served, 7)
    browser.open(f"{served.url}/ui/executions")
    browser.wait_for(lambda: status_of_row(browser, "jira") == "failed", "the failed Jira execution")
    row = browser.find("#live tbody tr.row-failed").text
    assert "jira" in row and "500" in row  # failed first, with its error
    browser.wait_for(lambda: status_of_row(browser, "snow") == "succeeded", "the ServiceNow execution succeeding")
    maybe_screenshot(browser, "executions")

    jira_faults(trackers, on=False)
    browser.click(css="#live tbody tr.row-failed a")
    browser.wait_for(lambda: browser.find("h2").text == "Attempts", "the execution's page")
    assert len([r for r in browser.all("tbody tr") if "500" in r.text]) == 2  # failed: nothing refreshes it
    browser.click("Retry")
    # the page refreshes itself while the retry is queued or running
    browser.wait_for(lambda: browser.find("h1 .status").text == "succeeded", "the retried execution succeeding")
    assert not browser.all("form[action$='/retry'] button")
    assert len(trackers.issues()) == 1
    assert browser.foreign_requests(served.url) == []


def test_retry_all_failed_asks_how_many_then_retries_them(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(trackers.mappings(jira_extra=FAST_JIRA), GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    jira_faults(trackers, on=True)
    webhook(served, 1)
    webhook(served, 2)
    browser.open(f"{served.url}/ui/executions?target=jira")
    browser.wait_for(lambda: len(browser.all("#live tr.row-failed")) == 2, "two failed Jira executions")
    jira_faults(trackers, on=False)

    browser.click("Retry all failed")
    question = "Retry 2 failed execution(s) where target is jira?"
    browser.wait_for(lambda: question in browser.text(), "the confirmation saying how many")
    browser.click("Yes, retry 2")
    browser.wait_for(
        lambda: [e.text for e in browser.all("#live tbody .status")] == ["succeeded", "succeeded"],
        "both Jira executions succeeding",
    )
    assert len(trackers.issues()) == 2


def test_moving_a_ticket_from_its_page_moves_it_in_the_trackers(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    webhook(served, 3)
    browser.open(f"{served.url}/ui/tickets/DQ-1")
    browser.wait_for(lambda: len(browser.all(".links li a")) == 2, "both tracker links", timeout=30)
    offered = ["Move to In Progress", "Move to On Hold", "Move to Resolved", "Move to Canceled"]
    browser.wait_for(lambda: [b.text for b in browser.all(".moves button")] == offered, "the moves New allows")

    browser.find(".moves input[name=note]").send_keys("looking into it")
    browser.click("Move to In Progress")
    browser.wait_for(lambda: browser.find("h1 .status").text == "In Progress", "the new state")
    moved = "status changed by console: New → In Progress"
    browser.wait_for(lambda: moved in browser.text(".timeline"), "the move on the timeline")
    remaining = ["Move to On Hold", "Move to Resolved", "Move to Canceled"]
    buttons = lambda: [b.text for b in browser.all(".moves button")]  # noqa: E731
    browser.wait_for(lambda: buttons() == remaining, "the moves In Progress allows")
    browser.wait_for(lambda: trackers.issues()[0]["status"] == "In Progress", "Jira following the move")
    browser.wait_for(lambda: trackers.incidents()[0]["state"] == "2", "ServiceNow following the move")

    browser.find("#comment-text").send_keys("checked the upstream load")
    browser.click("Add comment")
    browser.wait_for(lambda: "checked the upstream load" in browser.text(".timeline"), "the comment")
    assert browser.foreign_requests(served.url) == []


def test_a_post_without_the_csrf_token_is_refused(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    webhook(served, 4)
    browser.open(f"{served.url}/ui/tickets/DQ-1")
    session = browser.driver.get_cookie("gateway_console")
    assert session is not None and session["httpOnly"] and session["sameSite"] == "Strict"
    cookies = {"gateway_console": session["value"]}
    url = f"{served.url}/ui/tickets/DQ-1/status"

    refused = httpx.post(url, data={"status": "Canceled"}, cookies=cookies)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    csrf = browser.find("input[name=csrf]").get_attribute("value")
    accepted = httpx.post(url, data={"status": "Canceled", "csrf": csrf}, cookies=cookies)
    assert accepted.status_code == 303
    assert httpx.post(url, data={"status": "Canceled", "csrf": csrf}).status_code == 303  # no session: to login
    assert httpx.get(f"{served.url}/ui", follow_redirects=False).headers["location"].startswith("/ui/login")


@pytest.mark.parametrize("width", [320, 390])
def test_pages_read_at_phone_width(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser, width: int
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    webhook(served, 5, container="warehouse_sales_orders_by_region_and_channel_monthly_snapshot_v2")  # one long word
    browser.driver.set_window_size(width, 800)
    for path in ("/ui", "/ui/tickets", "/ui/tickets/DQ-1", "/ui/executions", "/ui/events", "/ui/mappings"):
        browser.open(f"{served.url}{path}")
        overflow = browser.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"


def test_without_a_token_the_console_opens_on_loopback(serve: Callable[..., Served], trackers: Trackers) -> None:
    served = serve()
    page = httpx.get(f"{served.url}/ui", timeout=10)
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
    assert "Sign out" not in page.text


def test_the_mappings_page_checks_the_mappings_against_the_trackers(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    browser.open(f"{served.url}/ui/mappings")
    browser.click("Check against trackers")
    browser.wait_for(lambda: bool(browser.all("#live-summary")), "the live check's answer", timeout=30)

    assert browser.text("#live-summary li.ok").startswith("target jira: live ok: DQ/Bug")
    rows = [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
        for row in browser.all("#live-findings tbody tr")
    ]
    # the design's example maps subcategory "Validation Error", which the sandbox instance does not list
    assert [row[1:4] for row in rows] == [["snow", "subcategory", "Validation Error"]]
    assert rows[0][0].endswith("targets.yaml") and "not a choice of incident.subcategory" in rows[0][5]
    assert "validation (Validation)" in rows[0][4]
    assert browser.text("[role=alert]") == "1 live problem(s)"
    assert browser.foreign_requests(served.url) == []


def test_back_and_submit_again_does_not_comment_or_open_a_ticket_twice(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    catalog = (Path(__file__).parents[2] / "mappings" / "catalog.yaml").read_text()
    served = serve({**trackers.mappings(), "catalog.yaml": catalog}, GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    webhook(served, 6)
    browser.open(f"{served.url}/ui/tickets/DQ-1")
    browser.find("#comment-text").send_keys("rerun scheduled")
    browser.click("Add comment")
    browser.wait_for(lambda: "rerun scheduled" in browser.text(".timeline"), "the comment")
    browser.driver.back()  # the page with the form again, as a person might go back to check
    browser.wait_for(lambda: browser.all("#comment-text"), "the ticket page again")
    browser.click("Add comment")
    browser.open(f"{served.url}/ui/tickets/DQ-1")
    assert browser.text(".timeline").count("rerun scheduled") == 1

    browser.open(f"{served.url}/ui/new/broken-dashboard")
    browser.find("#field-short_description").send_keys("sales dashboard doubled")
    browser.click("Open ticket")
    browser.wait_for(lambda: browser.find("h1").text.startswith("DQ-2"), "the new ticket's page")
    browser.driver.back()
    browser.wait_for(lambda: browser.all("#field-short_description"), "the catalog form again")
    browser.click("Open ticket")
    browser.open(f"{served.url}/ui/tickets?q=sales+dashboard")
    assert "1 ticket(s)" in browser.text(".pager")


def test_what_a_person_types_on_a_ticket_page_survives_its_live_refresh(
    serve: Callable[..., Served], trackers: Trackers, browser: Browser
) -> None:
    served = serve(GATEWAY_API_TOKEN=TOKEN)
    sign_in(browser, served)
    trackers.jira.inject(Fault(kind="slow", delay=1.5, count=3))  # the ticket's executions run for seconds
    webhook(served, 8)
    browser.open(f"{served.url}/ui/tickets/DQ-1")
    assert browser.find("#live").get_attribute("hx-get")  # queued or running work: the page refreshes itself
    browser.driver.execute_script("document.addEventListener('htmx:afterSettle', () => { window.refreshed = 1; })")
    browser.find(".moves input[name=note]").send_keys("waiting on the load")
    browser.find("#comment-text").send_keys("half a tho")
    browser.wait_for(lambda: browser.driver.execute_script("return window.refreshed"), "a live refresh")
    browser.driver.switch_to.active_element.send_keys("ught")  # typing on, where the cursor was
    assert browser.find("#comment-text").get_attribute("value") == "half a thought"
    assert browser.find(".moves input[name=note]").get_attribute("value") == "waiting on the load"
