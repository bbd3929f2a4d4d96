"""A sandbox tracker left running keeps only its newest requests: its request log is bounded."""

from __future__ import annotations

import httpx

from connectors.emulators.base import Emulator, EmulatorHTTPServer, Response


def test_the_request_log_keeps_the_newest_requests_up_to_its_limit() -> None:
    emulator = Emulator(users={"u": "p"}, log_limit=20)
    emulator.route("GET", r"/ping/(?P<n>\d+)", lambda request: Response(200, {"n": request.params["n"]}))
    server = EmulatorHTTPServer(emulator, port=0).start()
    try:
        with httpx.Client(base_url=server.url, auth=("u", "p")) as client:
            for n in range(1, 26):
                assert client.get(f"/ping/{n}").json() == {"n": str(n)}
        # past 20 entries the oldest go, down to 18 (the limit less a tenth): 4..21 after the 21st, 7..24 after the 24th
        assert [entry.path for entry in emulator.log] == [f"/ping/{n}" for n in range(7, 26)]
        assert all(entry.status == 200 for entry in emulator.log)
        assert emulator.served == 25  # what a soak counts faults by: every request, not what the log holds
    finally:
        server.stop()
