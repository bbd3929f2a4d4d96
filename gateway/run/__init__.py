"""Processes: the CLI, serve, workers, the supervisor, embedded Redis, the sandbox, logging."""
