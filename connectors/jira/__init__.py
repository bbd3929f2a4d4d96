"""Jira: `config` (no client library), `api` (HTTP + failure classification), `workflow`, `connector`."""
