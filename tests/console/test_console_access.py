"""The console's access rules and its read-only pages, in process (the browser tests are in e2e/)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

import pytest

from gateway.web.ui import auth
from tests import postgres
from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, Harness, MakeHarness, qualytics_delivery
from tests.faults.conftest import database_held
from tests.receiver import Receiver

TOKEN = "console-unit-token-0123456789"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def signed_in(make_gateway: MakeHarness, **settings: Any) -> Harness:
    gateway = make_gateway(api_token=TOKEN, **settings)
    form = gateway.client.get("/ui/login")
    answer = gateway.client.post(
        "/ui/login",
        data={"csrf": csrf_of(form.text), "token": TOKEN, "next_path": "/ui/tickets"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/tickets"
    return gateway


def test_without_a_token_the_console_refuses_clients_off_loopback(gateway: Harness) -> None:
    answer = gateway.client.get("/ui")  # the test client's address is "testclient", not loopback
    assert answer.status_code == 403
    assert "loopback" in answer.text


def test_with_a_token_the_console_asks_for_it_once(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN, ui_session_hours=2)
    first = gateway.client.get("/ui/executions?status=failed", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/ui/login?next_path=/ui/executions%3Fstatus%3Dfailed"

    form = gateway.client.get("/ui/login")
    wrong = gateway.client.post("/ui/login", data={"csrf": csrf_of(form.text), "token": "nope", "next_path": "/ui"})
    assert wrong.status_code == 401 and "That is not the API token." in wrong.text
    right = gateway.client.post(
        "/ui/login", data={"csrf": csrf_of(form.text), "token": TOKEN, "next_path": "/ui"}, follow_redirects=False
    )
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert 7000 < max_age <= 7200
    assert TOKEN not in cookie
    assert gateway.client.get("/ui").status_code == 200


def test_login_without_its_csrf_token_is_refused(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN)
    gateway.client.get("/ui/login")
    answer = gateway.client.post("/ui/login", data={"token": TOKEN})
    assert answer.status_code == 403
    assert gateway.client.get("/ui", follow_redirects=False).status_code == 303


def test_login_sends_you_only_to_console_pages(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN)
    form = gateway.client.get("/ui/login?next_path=//evil.example/ui")
    assert 'value="/ui"' in form.text
    answer = gateway.client.post(
        "/ui/login",
        data={"csrf": csrf_of(form.text), "token": TOKEN, "next_path": "https://evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/ui"


def test_a_forged_or_expired_session_goes_back_to_the_login(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN)
    key = hashlib.sha256(b"gateway-console-session\0" + TOKEN.encode()).digest()
    expired = auth.encode(key, auth.Session(csrf="x", expires=time.time() - 1, signed_in=True))
    forged = auth.encode(b"another key", auth.Session(csrf="x", expires=time.time() + 3600, signed_in=True))
    valid = auth.encode(key, auth.Session(csrf="x", expires=time.time() + 3600, signed_in=True))
    for value, status in ((expired, 303), (forged, 303), (valid, 200)):
        gateway.client.cookies.set(auth.COOKIE, value, path="/ui")
        assert gateway.client.get("/ui", follow_redirects=False).status_code == status


def test_signing_out_ends_the_session(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    page = gateway.client.get("/ui")
    out = gateway.client.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert gateway.client.get("/ui", follow_redirects=False).status_code == 303


def test_a_copy_of_a_signed_out_sessions_cookie_no_longer_opens_the_console(make_gateway: MakeHarness) -> None:
    """The cookie is signed, not stored: a copy (another browser, a proxy's log) would have worked until it
    expired. Its sign-out is kept in the database, so it ends on every web node; other sessions go on."""
    gateway = signed_in(make_gateway)
    copied = gateway.client.cookies.get(auth.COOKIE, path="/ui")
    page = gateway.client.get("/ui")
    gateway.client.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    form = gateway.client.get("/ui/login")
    gateway.client.post("/ui/login", data={"csrf": csrf_of(form.text), "token": TOKEN}, follow_redirects=False)
    later = gateway.client.cookies.get(auth.COOKIE, path="/ui")
    assert copied and later and later != copied
    for cookie, status in ((copied, 303), (later, 200)):
        gateway.client.cookies.set(auth.COOKIE, cookie, path="/ui")
        assert gateway.client.get("/ui/tickets", follow_redirects=False).status_code == status


def test_events_show_the_payload_with_secrets_masked_and_what_it_became(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    delivery = qualytics_delivery(9, description=f"leaked {QUALYTICS_SECRET} & <b>bold</b>")
    assert gateway.post("qualytics", delivery).status_code == 202
    page = gateway.client.get("/ui/events")
    assert page.status_code == 200
    assert QUALYTICS_SECRET not in page.text
    assert "leaked *** &amp; &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert 'Became <a href="/ui/tickets/DQ-1">DQ-1</a>' in page.text


def test_the_mappings_page_shows_each_sources_url_the_check_and_a_preview(
    make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = signed_in(make_gateway)
    monkeypatch.delenv("QUALYTICS_SECRET", raising=False)
    page = gateway.client.get("/ui/mappings")
    assert "POST http://testserver.local/v1/webhooks/qualytics" in page.text
    assert "shared secret header" in page.text and "HMAC signature" in page.text
    # `gateway check` reads the files in this process's environment, which lacks the secret
    assert "sources.yaml: source &#39;qualytics&#39;: environment variable QUALYTICS_SECRET is not set" in page.text
    monkeypatch.setenv("QUALYTICS_SECRET", QUALYTICS_SECRET)
    page = gateway.client.get("/ui/mappings")
    assert "ok: 3 file(s), 2 source(s), 1 target(s), 0 channel(s), 2 flow(s)" in page.text

    payload = json.dumps(qualytics_delivery(5))
    shown = gateway.client.post(
        "/ui/mappings/preview", data={"csrf": csrf_of(page.text), "source": "qualytics", "payload": payload}
    )
    assert shown.status_code == 200
    result = re.search(r'<pre class="payload" id="preview-result">(.*?)</pre>', shown.text, re.S)
    assert result, shown.text
    assert "&#34;flow&#34;: &#34;open-dq-ticket&#34;" in result.group(1)
    assert gateway.tickets() == []  # a preview creates nothing


def test_the_schema_viewer_loads_only_the_gateways_own_files(gateway: Harness) -> None:
    viewer = gateway.client.get("/schema")
    assert viewer.status_code == 200
    assert "/ui/static/swagger/swagger-ui-bundle.js" in viewer.text
    assert not re.search(r"(src|href)=['\"](https?:)?//", viewer.text)
    assert gateway.client.get("/ui/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert gateway.client.get("/schema/openapi.json").json()["info"]["title"] == "Data-quality ticketing gateway"


def test_an_event_has_its_own_page_and_unknown_ones_are_404(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    [event_id] = gateway.post("qualytics", qualytics_delivery(3)).json()["event_ids"]
    page = gateway.client.get(f"/ui/events/{event_id}")
    assert page.status_code == 200
    assert "<details open>" in page.text and "Became" in page.text
    missing = gateway.client.get("/ui/events/nope")
    assert missing.status_code == 404 and "no event &#39;nope&#39;" in missing.text
    assert gateway.client.get("/ui/tickets/DQ-99").status_code == 404


def test_a_live_refresh_after_the_session_ends_sends_the_whole_page_to_the_login(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN)
    answer = gateway.client.get("/ui/executions", headers={"hx-request": "true"}, follow_redirects=False)
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == "/ui/login?next_path=/ui/executions"


def test_console_pages_allow_only_the_gateways_own_scripts_and_styles(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    answer = gateway.client.get("/ui")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert not re.search(r"(src|href)=['\"](https?:)?//", answer.text)


def test_the_overview_charts_executions_per_hour_by_outcome(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    for anomaly in (1, 2, 3):
        gateway.post("qualytics", qualytics_delivery(anomaly))
    gateway.drain()
    page = gateway.client.get("/ui").text
    assert 'aria-label="3 executions in the last 24 hours, by outcome"' in page
    bars = re.findall(r"<title>(\d+) execution\(s\), (\d+) succeeded</title>", page)  # one, or two across an hour
    assert bars and sum(int(total) for total, _ in bars) == 3 and sum(int(ok) for _, ok in bars) == 3
    assert page.count('class="bar-succeeded"') == len(bars)
    assert page.count("<title>0 execution(s)</title>") == 24 - len(bars)


def test_the_ticket_page_shows_its_anomalies_and_sla(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(9, status="Active")).status_code == 202
    page = gateway.client.get("/ui/tickets/DQ-1")
    assert page.status_code == 200
    assert "qualytics:9 (Active)" in page.text
    assert "<dt>response due</dt>" in page.text and "min left)" in page.text
    assert "<dt>resolution due</dt>" in page.text


@pytest.mark.parametrize("query", ["%", "%%", "qualytics:_"])
def test_a_console_search_for_a_wildcard_is_literal(make_gateway: MakeHarness, query: str) -> None:
    gateway = signed_in(make_gateway)
    for anomaly in (1, 2):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    found = gateway.client.get("/ui/tickets", params={"q": "qualytics:2"}).text
    assert "/ui/tickets/DQ-2" in found and "/ui/tickets/DQ-1" not in found
    wildcard = gateway.client.get("/ui/tickets", params={"q": query}).text
    assert "/ui/tickets/DQ-1" not in wildcard and "/ui/tickets/DQ-2" not in wildcard


def test_a_move_from_the_console_is_a_console_move_for_ticket_event_flows(
    make_gateway: MakeHarness, receiver: Receiver
) -> None:
    flow = f"""
flows:
  - name: moved-in-the-console
    trigger: {{type: ticket_status_changed, where: {{origin: [console]}}}}
    actions:
      - webhook: {{url: "{receiver.url}/moved", method: PUT, body: '{{{{ change.origin }}}} {{{{ change.actor }}}}'}}
"""
    gateway = signed_in(make_gateway, files={**LOCAL_MAPPINGS, "events.yaml": flow})
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    csrf = csrf_of(gateway.client.get("/ui/tickets/DQ-1").text)
    moved = gateway.client.post(
        "/ui/tickets/DQ-1/status", data={"csrf": csrf, "status": "In Progress"}, follow_redirects=False
    )
    assert moved.status_code == 303, moved.text
    gateway.drain()
    assert [(r["path"], r["body"]) for r in receiver.received] == [("/moved", b"console console")]


@pytest.mark.parametrize("page", ["/ui/tickets", "/ui/executions", "/ui/events"])
def test_a_page_number_past_every_list_shows_an_empty_page(make_gateway: MakeHarness, page: str) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    shown = gateway.client.get(page, params={"page": "9" * 21})
    assert shown.status_code == 200 and "/ui/tickets/DQ-1" not in shown.text


@pytest.mark.parametrize("page", ["/ui/tickets", "/ui/executions", "/ui/events"])
@pytest.mark.parametrize("number", ["abc", "0", "-3", "1.5", "²"])
def test_a_page_that_is_no_page_number_is_a_400_page_naming_it(
    make_gateway: MakeHarness, page: str, number: str
) -> None:
    """Litestar answered 'Validation failed for GET /ui/tickets?page=abc', naming neither the parameter nor
    what it takes."""
    gateway = signed_in(make_gateway)
    answer = gateway.client.get(page, params={"page": number})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Invalid query</h1>" in answer.text and "Back to the overview" in answer.text
    assert f"page=&#39;{number}&#39; is not a page number: pages are whole numbers from 1" in answer.text
    assert "Validation failed" not in answer.text


@pytest.mark.parametrize("page", ["/ui/tickets", "/ui/executions", "/ui/events"])
def test_an_empty_page_number_is_the_first_page(make_gateway: MakeHarness, page: str) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    first = gateway.client.get(page)
    for number in ("", "1", "01"):
        shown = gateway.client.get(page, params={"page": number})
        assert shown.status_code == 200, number
        assert shown.text.count("/ui/tickets/DQ-1") == first.text.count("/ui/tickets/DQ-1") > 0


def test_an_ignored_delivery_shows_what_the_tool_sent_and_why_nothing_happened(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    delivery = qualytics_delivery(9, trigger="Operation", description="nightly orders profile")
    assert gateway.post("qualytics", delivery).status_code == 202
    page = gateway.client.get("/ui/events").text
    assert "is not ticketed" in page
    assert "nightly orders profile" in page  # what the tool sent, not only the reason


def test_a_console_form_over_the_body_limit_is_a_413(make_gateway: MakeHarness) -> None:
    gateway = make_gateway(api_token=TOKEN, max_body_bytes=4096)
    form = gateway.client.get("/ui/login")
    data = {"csrf": csrf_of(form.text), "token": "x" * 10_000, "next_path": "/ui/tickets"}
    refused = gateway.client.post("/ui/login", data=data, follow_redirects=False)
    assert refused.status_code == 413 and "Request refused" in refused.text


def test_a_filter_no_ticket_or_execution_can_match_is_named_not_shown_as_empty(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    tickets = gateway.client.get("/ui/tickets?state=Sideways")
    assert tickets.status_code == 422 and "Sideways" in tickets.text and "On Hold" in tickets.text
    runs = gateway.client.get("/ui/executions?status=faild")
    assert runs.status_code == 422 and "faild" in runs.text and "succeeded" in runs.text
    assert gateway.client.get("/ui/tickets?state=in+progress").status_code == 200
    assert gateway.client.get("/ui/executions?status=failed&state=").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [("/ui/tickets/DQ-1/nope", 404, "Not found"), ("/ui/tickets/DQ-1/comments", 405, "Method not allowed")],
)
def test_a_console_address_no_page_answers_is_an_error_page_not_json(
    make_gateway: MakeHarness, path: str, status: int, title: str
) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    answer = gateway.client.get(path)  # a mistyped address, or a form's address opened in the address bar
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in answer.text and "Back to the overview" in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    api = gateway.client.get("/v1/nope")
    assert api.status_code == 404 and api.json()["error"] == "not_found"  # the API still answers JSON


def test_a_configured_secret_quoted_in_a_ticket_is_masked_on_every_page(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    delivery = qualytics_delivery(1, description=f"the check used {QUALYTICS_SECRET} & failed")
    assert gateway.post("qualytics", delivery).status_code == 202
    page = gateway.client.get("/ui/tickets/DQ-1").text
    said = f"the key is {QUALYTICS_SECRET}"
    commented = gateway.client.post("/ui/tickets/DQ-1/comments", data={"csrf": csrf_of(page), "text": said})
    assert commented.status_code == 200
    for path in ("/ui", "/ui/tickets", "/ui/tickets/DQ-1", "/ui/tickets?q=check"):
        shown = gateway.client.get(path).text
        assert QUALYTICS_SECRET not in shown, path
    shown = gateway.client.get("/ui/tickets/DQ-1").text
    assert "the check used *** &amp; failed" in shown and "the key is ***" in shown


def test_a_secret_that_is_also_a_word_of_html_is_masked_in_what_is_shown_not_in_the_page(
    make_gateway: MakeHarness,
) -> None:
    gateway = signed_in(make_gateway, env={"GENERIC_HMAC_SECRET": "form"})  # short, but a configured secret
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    page = gateway.client.get("/ui/tickets/DQ-1").text
    assert '<form method="post" action="/ui/tickets/DQ-1/comments" autocomplete="off">' in page  # as written
    said = {"csrf": csrf_of(page), "text": "the form failed"}
    assert gateway.client.post("/ui/tickets/DQ-1/comments", data=said).status_code == 200
    shown = gateway.client.get("/ui/tickets/DQ-1").text
    assert "the *** failed" in shown and "the form failed" not in shown


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_chart_puts_an_execution_in_the_hour_it_was_created(
    make_gateway: MakeHarness, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    monkeypatch.setenv(postgres.SWITCH, database)
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    gateway.drain()
    hour = int(time.time() // 3600) * 3600
    with gateway.runtime.mirror.transaction() as tx:  # created 40 minutes into the hour before this one
        tx.execute("UPDATE executions SET created_at = ?", (hour - 1200,))
    page = gateway.client.get("/ui").text
    assert 'aria-label="1 executions in the last 24 hours, by outcome"' in page
    bars = re.findall(r"<title>(\d+) execution\(s\)", page)
    assert bars[-2:] == ["1", "0"]  # the hour before, not the current one


def test_a_form_sent_after_the_session_ended_signs_in_back_to_its_page(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    csrf = csrf_of(gateway.client.get("/ui/tickets/DQ-1").text)
    gateway.client.cookies.clear()  # the session ran out while the page was open
    sent = gateway.client.post("/ui/tickets/DQ-1/comments", data={"csrf": csrf, "text": "late"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/ui/login")
    form = gateway.client.get(sent.headers["location"])
    again = gateway.client.post(
        "/ui/login",
        data={
            "csrf": csrf_of(form.text),
            "token": TOKEN,
            "next_path": re.findall(r'name="next_path" value="([^"]*)"', form.text)[0],
        },
    )
    assert again.status_code == 200 and "<h1>DQ-1 " in again.text  # the ticket, not "Method not allowed"


def test_a_database_that_cannot_take_a_form_now_is_an_error_page_not_json(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway, db_busy_timeout_seconds=0.2)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    csrf = csrf_of(gateway.client.get("/ui/tickets/DQ-1").text)
    with database_held(gateway):
        sent = gateway.client.post("/ui/tickets/DQ-1/comments", data={"csrf": csrf, "text": "on it"})
    assert sent.status_code == 503 and sent.headers["content-type"].startswith("text/html")
    assert "<h1>Database unavailable</h1>" in sent.text and "nothing was recorded" in sent.text
    assert gateway.client.get("/ui/tickets/DQ-1").text.count("on it") == 0


def test_retry_all_failed_comes_back_to_the_list_as_it_was_filtered(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    gateway.drain()
    with gateway.runtime.mirror.transaction() as tx:
        tx.execute("UPDATE executions SET status = 'failed', error_kind = 'http_5xx'")
    listed = gateway.client.get("/ui/executions?status=failed&error_kind=http_5xx").text
    bulk = listed.split('class="bulk"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', bulk))
    asked = gateway.client.post("/ui/executions/retry", data=fields)
    assert "Retry <strong>1</strong> failed execution(s) where error kind is http_5xx?" in asked.text
    assert 'href="/ui/executions?status=failed&amp;error_kind=http_5xx">Cancel' in asked.text
    confirm = asked.text.split('action="/ui/executions/retry"', 1)[1].split("</form>", 1)[0]
    done = gateway.client.post(
        "/ui/executions/retry",
        data=dict(re.findall(r'name="([^"]+)" value="([^"]*)"', confirm)),
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/executions?status=failed&error_kind=http_5xx"


def once_of(html: str) -> str:
    found = re.search(r'name="once" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_comment_form_sent_twice_comments_once(make_gateway: MakeHarness) -> None:
    """A double click, or a page resubmitted: the second does nothing and goes back to the ticket."""
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    page = gateway.client.get("/ui/tickets/DQ-1").text
    form = {"csrf": csrf_of(page), "once": once_of(page), "text": "looking into it"}
    first = gateway.client.post("/ui/tickets/DQ-1/comments", data=form, follow_redirects=False)
    again = gateway.client.post("/ui/tickets/DQ-1/comments", data=form, follow_redirects=False)
    assert first.status_code == 303 and again.status_code == 303
    assert again.headers["location"] == "/ui/tickets/DQ-1"
    comments = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]
    assert [c["data"]["text"] for c in comments] == ["looking into it"]
    fresh = gateway.client.get("/ui/tickets/DQ-1").text  # a new page is a new form: it comments again
    assert once_of(fresh) != form["once"]
    form = {"csrf": csrf_of(fresh), "once": once_of(fresh), "text": "fixed upstream"}
    assert gateway.client.post("/ui/tickets/DQ-1/comments", data=form, follow_redirects=False).status_code == 303
    comments = [e for e in gateway.ticket("DQ-1")["timeline"] if e["kind"] == "comment"]
    assert len(comments) == 2


def test_a_form_that_was_refused_may_be_sent_again(make_gateway: MakeHarness) -> None:
    """A refused move (a status the lifecycle does not allow from here) used no form: the next button works."""
    gateway = signed_in(make_gateway)
    assert gateway.post("qualytics", qualytics_delivery(1)).status_code == 202
    page = gateway.client.get("/ui/tickets/DQ-1").text
    form = {"csrf": csrf_of(page), "once": once_of(page)}
    refused = gateway.client.post("/ui/tickets/DQ-1/status", data={**form, "status": "Closed"})
    assert refused.status_code == 409, refused.text
    moved = gateway.client.post(
        "/ui/tickets/DQ-1/status", data={**form, "status": "In Progress"}, follow_redirects=False
    )
    assert moved.status_code == 303 and gateway.ticket("DQ-1")["state"] == "In Progress"


def test_the_overview_counts_tickets_by_state_and_executions_by_outcome(make_gateway: MakeHarness) -> None:
    gateway = signed_in(make_gateway)
    for anomaly in (1, 2, 3):
        assert gateway.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    gateway.drain()
    moved = gateway.client.post(
        "/v1/tickets/DQ-2/status",
        json={"status": "Resolved", "note": "fixed"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert moved.status_code == 202, moved.text
    gateway.drain()
    page = gateway.client.get("/ui").text

    def shown(link: str) -> int:
        found = re.search(rf'href="/ui/{re.escape(link)}">.*?<b>(\d+)</b>', page)
        assert found, link
        return int(found.group(1))

    conn = gateway.runtime.mirror.connection()  # what the tables say; the page reads the counters
    states = dict(conn.execute("SELECT state, count(*) FROM tickets GROUP BY state").fetchall())
    outcomes = dict(conn.execute("SELECT status, count(*) FROM executions GROUP BY status").fetchall())
    assert states == {"New": 2, "Resolved": 1}
    assert {s: shown(f"tickets?state={s}") for s in ("New", "Resolved", "Closed")} == {**states, "Closed": 0}
    assert outcomes.get("succeeded", 0) > 0
    assert {s: shown(f"executions?status={s}") for s in ("succeeded", "failed", "queued")} == {
        s: outcomes.get(s, 0) for s in ("succeeded", "failed", "queued")
    }
