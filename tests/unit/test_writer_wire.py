"""The frames between the web process and its ingress writer process (gateway.decide.writer)."""

from __future__ import annotations

import pickle
import socket
import threading

from gateway.core.errors import InvalidPayload, NotFound
from gateway.core.models import Event, Ignored, Parsed
from gateway.decide.writer import READY, Answered, Frames, Submitted, frame, raised

PARSED = Parsed(
    events=[Event(event_id="e-1", event_type="anomaly", anomaly_id="a-1", title="nulls in «orders»", raw={"x": [1]})],
    ignored=[Ignored(reason="a ping", ping=True)],
)


def test_frames_split_anywhere_in_a_read_come_out_whole_and_in_order() -> None:
    stream = b"".join(frame(Submitted(seq, "qualytics", b"{}", PARSED)) for seq in (1, 2, 3))
    for cut in range(1, len(stream)):
        frames = Frames(Submitted)
        got = frames.feed(stream[:cut]) + frames.feed(stream[cut:])
        assert [s.seq for s in got] == [1, 2, 3], cut
        assert got[0].parsed == PARSED and got[2].body == b"{}"


def test_a_read_ending_inside_a_frame_keeps_it_for_the_next() -> None:
    data = frame(Answered(7, 202, {"event_ids": ["e"]}))
    frames = Frames(Answered)
    assert frames.feed(data[:3]) == []
    assert frames.feed(data[3:-1]) == []
    assert frames.feed(data[-1:]) == [Answered(7, 202, {"event_ids": ["e"]})]


def test_an_error_comes_back_as_the_same_client_error() -> None:
    error = raised(pickle.dumps(NotFound("no source named 'x' is configured", code="unknown_source")))
    assert isinstance(error, NotFound)
    assert (error.status_code, error.code, error.detail) == (404, "unknown_source", "no source named 'x' is configured")
    assert isinstance(raised(pickle.dumps(InvalidPayload("event 1 has an empty id"))), InvalidPayload)


def test_an_error_that_cannot_be_read_is_still_a_failure_that_says_so() -> None:
    error = raised(b"not a pickle")
    assert isinstance(error, RuntimeError) and "could not be read" in str(error)


def test_the_writer_process_says_it_is_ready_before_it_answers() -> None:
    from gateway.decide.writer import serve_link

    class Writer:  # the ingress writer's `write`: settles each delivery of the batch
        def write(self, batch: list) -> None:  # type: ignore[type-arg]
            for pending in batch:
                pending.settle(NotFound("gone") if pending.received.source == "bad" else _recorded())

    ours, theirs = socket.socketpair()
    thread = threading.Thread(target=serve_link, args=(theirs, Writer()), daemon=True)
    thread.start()
    ours.sendall(frame(Submitted(1, "qualytics", b"{}", Parsed())) + frame(Submitted(2, "bad", b"{}", Parsed())))
    frames, got = Frames(Answered), []
    while len(got) < 3:
        got += frames.feed(ours.recv(65536))
    assert got[0] == Answered(READY)
    assert got[1].seq == 1 and got[1].status == 202 and got[1].error is None
    assert got[2].seq == 2 and isinstance(raised(got[2].error or b""), NotFound)
    ours.close()  # the web process closing its end ends the writer process's loop
    thread.join(5)
    assert not thread.is_alive()


def _recorded() -> object:
    from gateway.decide.ingest import Recorded
    from gateway.decide.planner import Outcome

    return Recorded(outcomes=[Outcome(event_id="e-1", executions=["x-1"], queued=["x-1"])])
