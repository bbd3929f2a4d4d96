"""The sandbox trackers keep their records in a file: saves that overlap (the timer's, the one at shutdown) hold."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from connectors.emulators.base import EmulatorHTTPServer
from connectors.emulators.jira import sandbox


def test_overlapping_saves_leave_the_latest_state(tmp_path: Path) -> None:
    server = EmulatorHTTPServer(sandbox(), port=0).keep_state(tmp_path / "jira.json")
    errors: list[BaseException] = []

    def save_often() -> None:
        try:
            for _ in range(30):
                server.save_state()
        except BaseException as exc:
            errors.append(exc)

    try:
        savers = [threading.Thread(target=save_often) for _ in range(6)]
        for saver in savers:
            saver.start()
        for saver in savers:
            saver.join()
        assert errors == []
        assert json.loads((tmp_path / "jira.json").read_text()) == json.loads(json.dumps(server.emulator.snapshot()))
        assert not (tmp_path / "jira.partial").exists()
    finally:
        server.server_close()
