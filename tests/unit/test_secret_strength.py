"""Secrets the gateway verifies are judged when it loads: empty, short and example values."""

from __future__ import annotations

from pathlib import Path

from gateway.core.settings import Settings
from gateway.rules.loader import load_mappings
from gateway.rules.strength import weak_secrets

SOURCES = """
sources:
  good: {kind: qualytics, secret: "a-long-enough-secret-value"}
  short: {kind: soda, token: "soda-t0ken"}
  example: {kind: generic, hmac_secret: "change-me-generic"}
  basic: {kind: alertmanager, basic: {user: am, password: ""}}
"""


def test_short_empty_and_example_secrets_are_named(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    mappings = load_mappings(tmp_path, {})
    found = {w.where: (w.problem, w.example) for w in weak_secrets(mappings, Settings(api_token="tiny"))}
    assert found == {
        "sources.short: field token": ("is shorter than 16 characters", False),
        "sources.example: field hmac_secret": ("is an example value (change-me-...): set a real secret", True),
        "sources.basic: field basic.password": ("is empty", False),
        "GATEWAY_API_TOKEN": ("is shorter than 16 characters", False),
    }


def test_the_shipped_examples_are_only_example_values(tmp_path: Path) -> None:
    mappings = load_mappings(Path(__file__).parents[2] / "mappings", {})
    found = weak_secrets(mappings, Settings())
    assert found and all(w.example for w in found)  # the sandbox keeps them with a warning; elsewhere refused
    named = {w.where for w in found}
    assert {"targets.jira: field sync.webhook_secret", "targets.snow: field sync.webhook_secret"} <= named


def test_the_secrets_tracker_webhooks_and_scrapers_carry_are_judged_too(tmp_path: Path) -> None:
    (tmp_path / "targets.yaml").write_text(
        """
targets:
  jira: {kind: jira, url: "https://jira.example", project: DQ, token: "t", statuses: {On Hold: To Do},
         sync: {webhook_secret: "hook", webhook_token: "a-long-enough-token-value"}}
  snow: {kind: servicenow, url: "https://x.service-now.com", user: u, password: p}
"""
    )
    mappings = load_mappings(tmp_path, {})
    found = {w.where: w.problem for w in weak_secrets(mappings, Settings(metrics_token="scrape"))}
    assert found == {
        "targets.jira: field sync.webhook_secret": "is shorter than 16 characters",
        "GATEWAY_METRICS_TOKEN": "is shorter than 16 characters",
    }
