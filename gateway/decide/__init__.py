"""One transaction from an event or a person to queued executions: ingest, planner, operations, preview."""
