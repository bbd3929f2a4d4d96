"""ServiceNow: `config` (no client library) and `connector` (pysnow)."""
