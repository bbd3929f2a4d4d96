"""GATEWAY_* numbers: what cannot work is refused at start-up, naming the variable."""

from __future__ import annotations

import pytest

from gateway.core.settings import Settings

NEVER_ZERO = [
    "GATEWAY_LEASE_SECONDS",  # every running execution's lease over at once: the sweeper runs it again
    "GATEWAY_SWEEP_INTERVAL_SECONDS",  # a sweeper that never sleeps
    "GATEWAY_REQUEST_TIMEOUT_SECONDS",  # every connection closed before its request arrives
    "GATEWAY_KEEP_ALIVE_SECONDS",
    "GATEWAY_RETRY_SCALE",  # every retry deadline already past
    "GATEWAY_DB_BUSY_TIMEOUT_SECONDS",  # PostgreSQL reads a lock_timeout of 0 as no timeout at all
    "GATEWAY_UI_SESSION_HOURS",  # a console sign-in over as it is made
]


@pytest.mark.parametrize("name", NEVER_ZERO)
def test_a_zero_that_cannot_work_is_refused(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env({name: "0"})
    assert str(refused.value) == f"{name} must be more than 0, not '0'"


@pytest.mark.parametrize("name", ["GATEWAY_MAX_BODY_BYTES", "GATEWAY_MAX_EVENTS_PER_DELIVERY"])
@pytest.mark.parametrize("value", ["0", "0.5", "10.5"])
def test_a_size_or_count_is_a_whole_number_above_zero(name: str, value: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env({name: value})
    assert str(refused.value).startswith(f"{name} must be ")
    assert str(refused.value).endswith(f", not {value!r}")


def test_a_zero_with_a_meaning_is_kept() -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_NOTIFY_WAIT_SECONDS": "0",  # notify at once
            "GATEWAY_RETRY_BUDGET_SECONDS": "0",  # every wait reschedules
            "GATEWAY_GROUP_COMMENT_SECONDS": "0",  # no spacing between group comments
            "GATEWAY_RETENTION_DAYS": "0",  # keep nothing finished, as db prune --days 0
            "GATEWAY_MAX_BODY_BYTES": "1e6",
        }
    )
    assert (settings.notify_wait_seconds, settings.retry_budget_seconds, settings.retention_days) == (0, 0, 0)
    assert settings.group_comment_seconds == 0 and settings.max_body_bytes == 1_000_000


PG = "postgresql://gateway:pw@db:5432/gateway"


@pytest.mark.parametrize(
    ("database", "value", "process"),
    [
        ("sqlite:///var/gateway.db", "", True),  # auto: one interpreter cannot use two cores
        ("sqlite:///var/gateway.db", "auto", True),
        (PG, "", True),
        (PG, "0", False),
        ("sqlite:///var/gateway.db", "0", False),
        ("sqlite:///var/gateway.db", "Off", False),
    ],
)
def test_the_ingress_writer_process_is_on_unless_told(database: str, value: str, process: bool) -> None:
    settings = Settings.from_env({"GATEWAY_DATABASE_URL": database, "GATEWAY_INGEST_PROCESS": value})
    assert settings.ingest_process is process


def test_an_ingress_process_switch_that_is_neither_on_off_nor_auto_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"GATEWAY_INGEST_PROCESS": "maybe"})
    assert str(refused.value) == "GATEWAY_INGEST_PROCESS must be 1, 0 or auto, not 'maybe'"
