"""Command parsing: forgiving status names, multi-word statuses, notes, comments, help."""

from __future__ import annotations

import pytest

from gateway.rules.loader import MappingErrors, load_mappings
from gateway.web.chatops import Command, CommandError, parse, teams_text
from tests.conftest import LOCAL_MAPPINGS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DQ-42", Command("show", "DQ-42")),
        ("  dq-42  ", Command("show", "dq-42")),
        ("DQ-42 in progress", Command("move", "DQ-42", status="In Progress")),
        ("DQ-42 in_progress taking it", Command("move", "DQ-42", status="In Progress", text="taking it")),
        ("DQ-42 IN-PROGRESS", Command("move", "DQ-42", status="In Progress")),
        (
            "DQ-42 resolved fixed in  the loader",
            Command("move", "DQ-42", status="Resolved", text="fixed in  the loader"),
        ),
        ("DQ-42 on hold vendor", Command("move", "DQ-42", status="On Hold", text="vendor")),
        ("DQ-42 done", Command("move", "DQ-42", status="Resolved")),
        ("DQ-42 cancelled duplicate of DQ-41", Command("move", "DQ-42", status="Canceled", text="duplicate of DQ-41")),
        ("DQ-42 new in town", Command("move", "DQ-42", status="New", text="in town")),
        ("DQ-42 comment see  the run log", Command("comment", "DQ-42", text="see  the run log")),
        ("DQ-42 Comment x", Command("comment", "DQ-42", text="x")),
        ("/ticket DQ-42 resolved", Command("move", "DQ-42", status="Resolved")),
        ("ticket DQ-42", Command("show", "DQ-42")),
        ("help", Command("help")),
        ("", Command("help")),
        ("?", Command("help")),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_a_configured_command_name_is_stripped_too() -> None:
    assert parse("/dq DQ-1 resolved", "/dq") == Command("move", "DQ-1", status="Resolved")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DQ-42 fixed", "`fixed` is not a status or `comment`. Statuses: New, In Progress, On Hold, Resolved"),
        ("DQ-42 in", "`in` is not a status"),
        ("DQ-42 comment", "A comment needs text: `/ticket DQ-42 comment <text>`."),
    ],
)
def test_what_cannot_be_parsed_says_why(text: str, message: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse(text)
    assert str(refused.value).startswith(message)


def test_teams_text_drops_the_mention_and_markup() -> None:
    assert teams_text("<at>DQ Gateway</at>&nbsp;DQ-1 resolved\n") == "DQ-1 resolved"
    assert teams_text("<div><at>DQ</at> DQ-1 comment a &amp; b</div>") == "DQ-1 comment a & b"
    mentioned = "<at>Bob</at> <at>DQ Gateway</at> DQ-1 comment for <at>Bob</at>"
    assert teams_text(mentioned, "DQ Gateway") == "@Bob DQ-1 comment for @Bob"


def test_the_chatops_block_is_checked_when_mappings_load(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    for name, text in LOCAL_MAPPINGS.items():
        (directory / name).write_text(text)
    (directory / "chatops.yaml").write_text("chatops:\n  command: ticket\n  slack_user: {U1: a}\n")
    with pytest.raises(MappingErrors) as failed:
        load_mappings(directory, {"QUALYTICS_SECRET": "x"})
    [error] = failed.value.errors
    assert error.file.endswith("chatops.yaml") and error.where.startswith("chatops")
    assert "slack_user" in str(error)

    (directory / "chatops.yaml").write_text("chatops:\n  command: ticket\n")
    with pytest.raises(MappingErrors) as failed:
        load_mappings(directory, {"QUALYTICS_SECRET": "x"})
    assert "command must be a slash command such as /ticket" in str(failed.value)

    (directory / "chatops.yaml").write_text("chatops: {command: /dq, slack_users: {U1: '${WHO}'}, response_wait: 5}\n")
    loaded = load_mappings(directory, {"QUALYTICS_SECRET": "x", "WHO": "alice"}).chatops
    assert (loaded.command, loaded.slack_users, loaded.response_wait) == ("/dq", {"U1": "alice"}, 5)
