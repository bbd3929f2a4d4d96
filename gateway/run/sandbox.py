"""The sandbox `gateway serve` starts when no tracker is configured: loopback Jira and ServiceNow."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from connectors.emulators.base import Emulator, EmulatorHTTPServer

log = logging.getLogger("gateway.run.sandbox")

# tracker -> (port, the variables the example mappings read, how to make its emulator)
PORTS = {"jira": 9001, "servicenow": 9002}
VARIABLES = {
    "jira": {"JIRA_URL": "http://127.0.0.1:{port}", "JIRA_USER": "sandbox", "JIRA_API_TOKEN": "sandbox-token"},
    "servicenow": {
        "SERVICENOW_URL": "http://127.0.0.1:{port}",
        "SERVICENOW_USER": "sandbox",
        "SERVICENOW_PASSWORD": "sandbox-password",
    },
}


def _emulators() -> dict[str, Callable[[], Emulator]]:
    from connectors.emulators.jira import sandbox
    from connectors.emulators.servicenow import ServiceNowEmulator

    return {"jira": sandbox, "servicenow": ServiceNowEmulator}


def start_sandbox(env: dict[str, str]) -> list[EmulatorHTTPServer]:
    """An emulator for each tracker whose URL is not set; `env` gets the variables that point at it."""
    servers = []
    for kind, make in _emulators().items():
        variables = VARIABLES[kind]
        if os.environ.get(next(iter(variables))):
            continue
        port = PORTS[kind]
        try:
            server = EmulatorHTTPServer(make(), "127.0.0.1", port)
        except OSError as exc:
            raise SystemExit(
                f"the sandbox {kind} cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                f"free the port or set {next(iter(variables))}"
            ) from None
        servers.append(server.start())
        env.update({name: value.format(port=port) for name, value in variables.items()})
        log.info("sandbox %s emulator on http://127.0.0.1:%s", kind, port)
    return servers
