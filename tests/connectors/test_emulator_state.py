"""The sandbox trackers keep their records in a file: saves that overlap (the timer's, the one at shutdown) hold."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from connectors.emulators.base import PIECE, EmulatorHTTPServer, encode_in_pieces
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


def test_a_big_state_saved_in_pieces_reads_back_as_it_was() -> None:
    """Saved a piece at a time (one encode under the lock held every request 40 ms or more at 12,000 records)."""
    state = {
        "tables": {"incident": [{"sys_id": f"{n:032x}", "number": f"INC{n:07d}"} for n in range(PIECE * 2 + 1)]},
        "journal": {f"{n:032x}": [{"value": f"note {n}"}] for n in range(PIECE)},
        "issues": {f"DQ-{n}": {"fields": {"comments": [n]}} for n in range(PIECE + 1)},
        "next_number": PIECE * 2 + 2,
    }
    pieces: list[bytes] = []

    encode_in_pieces(state, pieces)

    assert json.loads(b"".join(pieces)) == state
    assert len(pieces) > 10  # let go between pieces, not one encode
