"""Row ids (gateway/record/store.py, `new_id`): unique, and in the order they were made."""

from __future__ import annotations

import re
import time

from gateway.record.store import new_id


def test_ids_are_32_hex_digits_and_unique() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == len(ids)


def test_an_id_made_later_sorts_after_one_made_earlier() -> None:
    # the point of the time prefix: inserts land at the end of every index on an id
    earlier = new_id()
    time.sleep(0.002)
    assert new_id() > earlier
