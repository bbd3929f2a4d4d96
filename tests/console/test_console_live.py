"""The mappings page's "Check against trackers": `gateway check --live` for each target, from the console."""

from __future__ import annotations

import asyncio
import re
import time

from connectors.emulators.base import Fault
from gateway.web.ui.events import live_checks
from tests.conftest import TRACKER_ENV, MakeHarness, Trackers
from tests.console.test_console_access import TOKEN, csrf_of


def test_the_live_check_lists_each_finding_escaped_and_each_ok_target(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    files = trackers.mappings(jira_extra='    priorities: {Critical: "<b>Blocker</b>"}')
    snow_ok = "snow: {category: data_quality, subcategory: validation}"  # the instance's choice
    files["flows.yaml"] = files["flows.yaml"].replace("snow: {category: data_quality}", snow_ok)
    gateway = make_gateway(files, env=TRACKER_ENV, api_token=TOKEN)
    login = gateway.client.get("/ui/login")
    gateway.client.post("/ui/login", data={"csrf": csrf_of(login.text), "token": TOKEN, "next_path": "/ui"})
    page = gateway.client.get("/ui/mappings")
    assert "Check against trackers" in page.text and "live-findings" not in page.text

    refused = gateway.client.post("/ui/mappings/live", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    checked = gateway.client.post("/ui/mappings/live", data={"csrf": csrf_of(page.text)})
    assert checked.status_code == 200
    table = checked.text.split('id="live-findings"', 1)[1].split("</table>", 1)[0]
    cells = "".join(r"<td>(?:<code>)?([^<]*)(?:</code>)?</td>" for _ in range(6))
    rows = re.findall(f"<tr>{cells}</tr>", table)
    file = str(gateway.settings.mappings / "targets.yaml")
    offers = "Highest, High, Medium, Low, Lowest"
    assert rows == [(file, "jira", "priorities.Critical", "&lt;b&gt;Blocker&lt;/b&gt;", offers, "no such priority")]
    assert "<b>Blocker" not in checked.text
    assert "1 live problem(s)" in checked.text
    assert re.search(r"<li class=\"ok\">target snow: live ok: incident: \d+ mapped values found", checked.text)


def test_a_tracker_that_does_not_answer_in_time_is_named_not_waited_for(
    make_gateway: MakeHarness, trackers: Trackers
) -> None:
    gateway = make_gateway(trackers.mappings(), env=TRACKER_ENV)
    trackers.snow.inject(Fault(kind="slow", delay=1.5))  # under the target's 2 s timeout, over the bound
    checks = {c.target: c for c in asyncio.run(live_checks(gateway.runtime.mappings, 0.5))}
    assert (checks["snow"].summary, checks["snow"].answered) == ("no answer within 0.5 s", False)
    assert checks["jira"].answered and checks["jira"].findings == []
    deadline = time.monotonic() + 5
    while not any(entry.status for entry in trackers.snow.log) and time.monotonic() < deadline:
        time.sleep(0.05)  # the slowed request ends before the next test resets the emulator
