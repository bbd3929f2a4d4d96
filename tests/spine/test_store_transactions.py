"""The mirror's transactions keep their promises on both backends: a failed statement undoes its whole
transaction, is raised as the database's own error class, and leaves the connection fit for the next one.

On PostgreSQL every statement travels over libpq's pipeline and is prepared on its second use: a failure
must still come back where the caller expects it, and a statement that failed to prepare must not poison
the ones after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from gateway.record.store import CONFLICTS, DatabaseError, Query, Store, every_row, first, unavailable
from tests.postgres import PostgresServer, statements_sent

Makes = Callable[[Path], str]


@pytest.fixture
def store(database_url: Makes, tmp_path: Path) -> Store:
    made = Store(database_url(tmp_path), busy_timeout=5.0, migrate=False)
    made.connection().execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL)")
    return made


def _names(store: Store) -> list[str]:
    return [row["name"] for row in store.connection().execute("SELECT name FROM items ORDER BY id")]


def test_a_failed_write_undoes_its_transaction_and_the_next_one_commits(store: Store) -> None:
    store.connection().execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "kept"))

    with pytest.raises(CONFLICTS), store.transaction() as tx:
        tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", (2, "undone"))
        tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", (3, "kept"))  # the unique name
    with store.transaction() as tx:
        tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", (4, "after"))

    assert _names(store) == ["kept", "after"]


def test_a_pipelined_write_that_fails_is_raised_by_the_block_and_nothing_of_it_stays(store: Store) -> None:
    store.connection().execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "kept"))

    with pytest.raises(CONFLICTS), store.transaction(pipelined=True) as tx:
        store.send(tx, "INSERT INTO items (id, name) VALUES (?, ?)", (2, "undone"))
        store.send(tx, "INSERT INTO items (id, name) VALUES (?, ?)", (3, "kept"))
    with store.transaction(pipelined=True) as tx:
        store.send(tx, "INSERT INTO items (id, name) VALUES (?, ?)", (4, "after"))
        count = tx.execute("SELECT count(*) AS n FROM items").fetchone()["n"]

    assert count == 2  # the read waited for the write sent before it
    assert _names(store) == ["kept", "after"]


def test_an_exception_while_a_failed_write_is_still_unanswered_rolls_everything_back(store: Store) -> None:
    store.connection().execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "kept"))
    # SQLite answers each write at once; PostgreSQL's pipelined failure is still unread when planning fails
    raised = RuntimeError if store.postgres else CONFLICTS

    with pytest.raises(raised), store.transaction(pipelined=True) as tx:
        store.send(tx, "INSERT INTO items (id, name) VALUES (?, ?)", (2, "undone"))
        store.send(tx, "INSERT INTO items (id, name) VALUES (?, ?)", (3, "kept"))  # fails, unread
        raise RuntimeError("planning failed")
    with store.transaction() as tx:
        tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", (4, "after"))

    assert _names(store) == ["kept", "after"]


def test_a_statement_read_many_times_answers_alike_whatever_its_values(store: Store) -> None:
    conn = store.connection()
    conn.executemany("INSERT INTO items (id, name, score) VALUES (?, ?, ?)", [(i, f"n{i}", i / 2) for i in range(1, 9)])
    conn.execute("INSERT INTO items (id, name, score) VALUES (?, ?, ?)", (9, "none", None))

    answers = [
        conn.execute("SELECT id, name, score FROM items WHERE id = ?", (i,)).fetchone() for i in (3, 3, 3, 9, 9, 42)
    ]

    assert [None if row is None else (row["id"], row[1], row["score"]) for row in answers] == [
        (3, "n3", 1.5),
        (3, "n3", 1.5),
        (3, "n3", 1.5),
        (9, "none", None),
        (9, "none", None),
        None,
    ]
    assert dict(answers[0]) == {"id": 3, "name": "n3", "score": 1.5}
    updated = conn.execute("UPDATE items SET score = ? WHERE id <= ?", (0.0, 4))
    assert updated.rowcount == 4


def test_values_of_every_kind_come_back_exactly_as_written_prepared_or_not(store: Store) -> None:
    """On PostgreSQL numbers travel in binary and text as text: a clock's float keeps every digit, a large
    id its size, a digit string its zeros, and a number given as text still matches a number column."""
    conn = store.connection()
    conn.execute("CREATE TABLE kinds (id INTEGER PRIMARY KEY, at DOUBLE PRECISION, big BIGINT, label TEXT, flag INT)")
    rows = [
        (1, 1764868800.1234567, 9_007_199_254_740_993, "0042", 1),
        (2, -0.000001, -(2**62), "l'été \"quoted\"", 0),
        (3, None, None, None, None),
    ]
    for _ in range(3):  # the third time goes prepared
        conn.execute("DELETE FROM kinds")
        conn.executemany("INSERT INTO kinds (id, at, big, label, flag) VALUES (?, ?, ?, ?, ?)", rows)
        found = [tuple(row) for row in conn.execute("SELECT id, at, big, label, flag FROM kinds ORDER BY id")]
        assert found == rows
        assert [row[0] for row in conn.execute("SELECT id FROM kinds WHERE id = ?", ("2",))] == [2]
        assert [row[0] for row in conn.execute("SELECT label FROM kinds WHERE at > ?", (1764868800,))] == ["0042"]


def test_a_statement_that_cannot_be_prepared_fails_each_time_and_others_still_run(store: Store) -> None:
    conn = store.connection()
    for _ in range(3):  # the second use is when a statement is prepared
        with pytest.raises(DatabaseError, match="no_such_column"):
            conn.execute("SELECT no_such_column FROM items WHERE id = ?", (1,))
        assert conn.execute("SELECT count(*) AS n FROM items WHERE id > ?", (0,)).fetchone()["n"] == 0


def test_a_connection_the_server_dropped_is_replaced_on_the_next_call(postgres_server: PostgresServer) -> None:
    store = Store(postgres_server.create_database(), migrate=False)
    conn = store.connection()
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL)")
    conn.execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "kept"))
    backend = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    with psycopg.connect(store.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    with pytest.raises(psycopg.OperationalError):
        store.connection().execute("SELECT count(*) FROM items")

    assert _names(store) == ["kept"]
    assert store.connection().execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"] != backend


def test_long_in_lists_of_many_lengths_answer_alike(store: Store) -> None:
    conn = store.connection()
    conn.executemany("INSERT INTO items (id, name) VALUES (?, ?)", [(i, f"n{i}") for i in range(1, 61)])

    for length in (1, 2, 40, 40, 40, 60, 33, 33):  # lists past the prepared statements' bound among them
        ids = list(range(1, length + 1))
        marks = ", ".join("?" for _ in ids)
        found = conn.execute(f"SELECT count(*) AS n, max(name) AS last FROM items WHERE id IN ({marks})", ids)
        row = found.fetchone()
        assert (row["n"], row["last"]) == (length, max(f"n{i}" for i in ids))


def test_statements_asked_together_answer_in_order_each_after_the_one_before(store: Store) -> None:
    # what the ingress relies on: an event's insert and the reads its planning starts from, in one round trip
    store.connection().execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "old"))
    insert = Query("INSERT INTO items (id, name) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (2, "new"),
                   lambda cursor: cursor.rowcount)  # fmt: skip
    count = Query("SELECT count(*) AS n FROM items", (), lambda cursor: cursor.fetchone()["n"])
    missing = Query("SELECT name FROM items WHERE id = ?", (9,), lambda cursor: cursor.fetchone())
    with store.transaction(pipelined=True) as tx:
        store.send(tx, "UPDATE items SET score = ? WHERE id = ?", (0.5, 1))  # sent earlier, answered with them
        assert store.ask_together(tx, [insert, count, missing]) == [1, 2, None]
        again = Query(insert.sql, (3, "new"), insert.answer)
        assert store.ask_together(tx, [again, count]) == [0, 2]  # the duplicate name: nothing inserted
    assert _names(store) == ["old", "new"]
    assert store.connection().execute("SELECT score FROM items WHERE id = 1").fetchone()["score"] == 0.5


def test_a_lock_held_past_the_busy_timeout_is_unavailable_and_a_bad_statement_is_not(
    database_url: Makes, tmp_path: Path
) -> None:
    """What a worker may run again later (the database refused for now) against what is a bug for good."""
    store = Store(database_url(tmp_path), busy_timeout=0.2, migrate=False)
    store.connection().execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL)")
    other = Store(store.url, migrate=False)
    holder = other.connection()  # another process's writer, holding the lock
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE" if store.postgres else "DELETE FROM items")
    try:
        with pytest.raises(DatabaseError) as locked, store.transaction() as tx:
            tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", (1, "waits"))
    finally:
        holder.execute("ROLLBACK")
        other.close()
    with pytest.raises(DatabaseError) as bad:
        store.connection().execute("SELECT no_such_column FROM items")

    assert unavailable(locked.value), repr(locked.value)
    assert not unavailable(bad.value), repr(bad.value)
    store.close()


def test_rows_sent_in_a_pipelined_transaction_all_land_tickets_first_in_few_statements(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL INSERT rows of one statement are held and go together (an ingress batch wrote five single-row
    INSERTs a delivery); a ticket opened after rows that point at other tickets still goes first."""
    conn = store.connection()
    conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.execute(
        "CREATE TABLE timeline (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets (id), n INTEGER)"
    )
    conn.execute("INSERT INTO tickets (id, name) VALUES (?, ?)", (1, "open"))
    sent = statements_sent(conn, monkeypatch)

    with store.transaction(pipelined=True) as tx:
        for n in range(37):  # a recurrence on ticket 1, then a ticket opened and its first entry
            store.send(tx, "INSERT INTO timeline (id, ticket_id, n) VALUES (?, ?, ?)", (n * 2 + 1, 1, n))
            store.send(tx, "INSERT INTO tickets (id, name) VALUES (?, ?)", (n + 2, f"t{n}"))
            store.send(tx, "INSERT INTO timeline (id, ticket_id, n) VALUES (?, ?, ?)", (n * 2 + 2, n + 2, n))

    rows = conn.execute("SELECT id, ticket_id, n FROM timeline ORDER BY id").fetchall()
    assert [tuple(row) for row in rows] == [(i + 1, 1 if i % 2 == 0 else i // 2 + 2, i // 2) for i in range(74)]
    assert conn.execute("SELECT count(*) AS n FROM tickets").fetchone()["n"] == 38
    if store.postgres:  # 37 tickets: 32 + 4 + 1 rows; 74 entries: 32 + 32 + 8 + 2
        inserts = [sql for sql in sent if sql.startswith("INSERT")]
        assert [sql.split()[2] for sql in inserts] == ["tickets"] * 3 + ["timeline"] * 4


def test_reads_asked_many_answer_as_each_alone_and_reads_of_one_statement_go_as_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ask_many` (an ingress batch's first reads): on PostgreSQL the reads of one statement go as one statement,
    a row of values each; each still gets its own answer, found or not, and a read with a number goes alone."""
    conn = store.connection()
    for n, name in enumerate(["alpha", "beta", "gamma", "it's"], 1):
        conn.execute("INSERT INTO items (id, name, score) VALUES (?, ?, ?)", (n, name, n / 2))
    by_name = "SELECT id, score FROM items WHERE name = ?"
    newest = "SELECT * FROM items WHERE name = ? OR name = ? ORDER BY id DESC LIMIT 1" + store.for_update
    queries = [
        Query(by_name, ("beta",), every_row),
        Query(newest, ("alpha", "gamma"), first(lambda row: row["name"])),
        Query(by_name, ("missing",), every_row),
        Query("SELECT name FROM items WHERE id = ?", (4,), first(lambda row: row["name"])),
        Query(by_name, ("it's",), every_row),
        Query(newest, ("nobody", "beta"), first(lambda row: row["name"])),
        Query(newest, ("nobody", "nothing"), first(lambda row: row["name"])),
    ]
    sent = statements_sent(conn, monkeypatch)

    with store.transaction(pipelined=True) as tx:
        together = store.ask_many(tx, queries)
    monkeypatch.undo()
    with store.transaction() as tx:
        alone = [store.ask(tx, query) for query in queries]

    assert [[tuple(row) for row in rows] if isinstance(rows, list) else rows for rows in together] == [
        [(2, 1.0)],
        "gamma",
        [],
        "it's",
        [(4, 2.0)],
        "beta",
        None,
    ]
    assert [[tuple(row) for row in rows] if isinstance(rows, list) else rows for rows in alone] == [
        [tuple(row) for row in rows] if isinstance(rows, list) else rows for rows in together
    ]
    assert [dict(row) for row in together[0]] == [{"id": 2, "score": 1.0}]  # by name, without the row's position
    if store.postgres:  # one statement for each kind of text read, one for the read by number
        assert len([sql for sql in sent if sql.startswith("SELECT")]) == 3, sent


def test_keys_locked_together_are_held_until_commit(postgres_server: PostgresServer) -> None:
    """`locks_together`: the keys a batch locks go in one statement, and each is held as if locked alone: another
    transaction cannot take one until the batch commits (and one not asked for stays free)."""
    store = Store(postgres_server.create_database(), migrate=False)
    other = Store(store.url, migrate=False)  # a connection of its own to the same database
    free = "SELECT pg_try_advisory_xact_lock(hashtextextended(?, 0)) AS got"

    def can_take(key: str) -> bool:
        with other.transaction() as tx:  # released at its end
            return bool(tx.execute(free, (key,)).fetchone()["got"])

    with store.transaction(pipelined=True) as tx:
        with store.locks_together(tx):
            for key in ("group-b", "group-a", "group-b", "group-c"):
                store.lock_key(tx, key)
        store.flush(tx)
        held = [can_take(key) for key in ("group-a", "group-b", "group-c", "group-d")]
    after = [can_take(key) for key in ("group-a", "group-b", "group-c")]

    assert held == [False, False, False, True]
    assert after == [True, True, True]
