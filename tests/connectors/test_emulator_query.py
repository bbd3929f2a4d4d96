"""The ServiceNow emulator's encoded queries compare as an instance does."""

from __future__ import annotations

from connectors.emulators.servicenow import query

FIELDS = ("number", "sys_mod_count", "sys_updated_on")


def test_a_revision_compares_as_a_number_and_a_time_as_its_text() -> None:
    rows = [
        {"number": "INC1", "sys_mod_count": "0", "sys_updated_on": "2026-12-04 10:00:00"},
        {"number": "INC2", "sys_mod_count": "9", "sys_updated_on": "2026-12-04 10:00:05"},
        {"number": "INC3", "sys_mod_count": "10", "sys_updated_on": "2026-12-04 09:59:59"},
    ]

    def numbers(encoded: str) -> list[str]:
        return [row["number"] for row in query(rows, encoded, FIELDS)]

    assert numbers("sys_mod_count>0") == ["INC2", "INC3"]
    assert numbers("sys_mod_count>9") == ["INC3"]  # as text "10" < "9"
    assert numbers("sys_mod_count<=9") == ["INC1", "INC2"]
    assert numbers("sys_updated_on>=2026-12-04 10:00:00^sys_mod_count>0") == ["INC2"]
