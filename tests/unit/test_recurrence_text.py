"""What a coalesced recurrence comment says."""

from __future__ import annotations

from gateway.decide.recurrence import text


def test_one_occurrence_keeps_the_plain_sentence() -> None:
    assert text([2], "nulls in orders") == "The anomaly occurred again (occurrence 2): nulls in orders"


def test_many_occurrences_are_counted_and_listed_as_spans() -> None:
    assert text([2, 3, 4, 5, 6], "t") == "The anomaly occurred again 5 times (occurrences 2-6): t"
    assert text([2, 3, 4, 6, 9, 10], "t") == "The anomaly occurred again 6 times (occurrences 2-4, 6, 9-10): t"
