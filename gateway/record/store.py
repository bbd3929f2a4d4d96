"""Connections, transactions and versioned migrations of the mirror's database.

SQLite (WAL, the embedded default) or PostgreSQL (psycopg 3's connection and adapters, statements
over libpq's pipeline: `_Wire`), behind one small interface: a transaction is a `Tx` whose
`execute` takes `?` placeholders on both. The schema and the queries are shared; only the few
places where the dialects differ ask `self.postgres`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import psycopg
import psycopg.errors
from psycopg.adapt import PyFormat, Transformer

from gateway.record.counters import add_counts
from gateway.record.migrations import MIGRATION_LOCK, SCHEMA_VERSION, statements


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Tx(Protocol):
    """What a transaction offers on both backends; rows answer `row["column"]`, `row[0]` and `dict(row)`."""

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
# the database refused a value it was given (PostgreSQL's text holds no NUL character): the request's fault
ValueRefused: tuple[type[Exception], ...] = (sqlite3.DataError, psycopg.DataError)
# another transaction got there first (a unique key, a deadlock): the whole unit of work may run again
CONFLICTS = (
    sqlite3.IntegrityError,
    psycopg.errors.IntegrityError,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
)

# SQLite's result codes of a database that could not take a statement now, not of one that can never run
# (SQLITE_ERROR: no such table, a syntax error): busy, locked, out of memory, I/O, full, cannot open, protocol
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 10, 13, 14, 15})


def unavailable(exc: BaseException) -> bool:
    """The database refused the work for now (a lock held past the busy timeout, a lost connection, a full
    disk): the same work may run again later. A statement that can never run is a bug, not this."""
    if isinstance(exc, psycopg.OperationalError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)  # None: raised by the gateway itself (`Store.writing`)
        return "database is locked" in str(exc) if code is None else (code & 0xFF) in _SQLITE_UNAVAILABLE
    return False


# Rows a bulk change (retention, bulk retry, SLA breaches) writes a transaction: short turns on the
# writer lock and on the counters' rows every worker writes, and on PostgreSQL no big transaction's
# counter triggers, which cost the square of how often they update one row.
BULK_CHUNK = 500
# SQLite's WAL: the checkpoints beside the writers (`Store.checkpoint`) copy it into the database, but under
# a writer that never pauses the log never starts over (a writer restarts it only when it finds every frame
# copied, and by then it has written more), so it grew to the backstop and a commit checkpointed and
# restarted it with its turn held: at 2,500 webhooks/s about 9,000 frames a second, a 50-140 ms commit
# every second and the ingress's p99 at 80-100 ms (README, "Performance"). Now a checkpoint that finds more
# than WAL_RESTART_FRAMES frames, all copied, restarts the log itself (about 50 ms); the backstop is left
# for a database nobody checkpoints.
WAL_BACKSTOP_PAGES = 50_000  # about 200 MB of WAL before a commit checkpoints by itself
WAL_RESTART_FRAMES = 25_000  # about 100 MB
WAL_RESTART_WAIT_S = 0.1  # a restart holds new writers while it waits for readers: not longer than this


T = TypeVar("T")


@dataclass(frozen=True)
class Query(Generic[T]):
    """A statement whose answer is read, and what is taken from it: asked alone or with others
    (`Store.ask_together`: one round trip on PostgreSQL)."""

    sql: str
    args: tuple[Any, ...]
    answer: Callable[[Cursor], T]


def first(convert: Callable[[Any], T]) -> Callable[[Cursor], T | None]:
    """A `Query`'s answer: its first row converted, or None when it has none."""

    def answer(cursor: Cursor) -> T | None:
        row = cursor.fetchone()
        return convert(row) if row else None

    return answer


def every_row(cursor: Cursor) -> list[Any]:
    return cursor.fetchall()


def no_answer(cursor: Cursor) -> None:
    return None


def marks(values: Sequence[object]) -> str:
    """`?, ?, ?`: one placeholder per value (IN lists)."""
    return ", ".join("?" for _ in values)


_Status = psycopg.pq.ExecStatus
_AUTO = PyFormat.AUTO
_Key = tuple[bytes, tuple[int, ...]]  # a statement and its parameters' types: what is prepared


@lru_cache(maxsize=2048)
def _numbered(sql: str) -> bytes:
    """`?` placeholders as PostgreSQL's $1, $2, ..."""
    head, *parts = sql.split("?")
    return (head + "".join(f"${number}{part}" for number, part in enumerate(parts, 1))).encode()


def _pg_schema(sql: str) -> str:
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", re.sub(r"\bINTEGER\b", "BIGINT", sql))


@lru_cache(maxsize=256)
def _one_row(sql: str) -> tuple[str, str, str] | None:
    """A plain `INSERT ... VALUES (...)` (an ON CONFLICT clause may follow; no RETURNING) split around its
    one row of values, or None: what a pipelined transaction may send many rows of as one statement."""
    start = sql.find(" VALUES (")
    if not sql.startswith("INSERT INTO ") or start < 0 or "RETURNING" in sql:
        return None
    end = sql.find(")", start)
    row = sql[start + 8 : end + 1]
    return None if "(" in row[1:] else (sql[: start + 8], row, sql[end + 1 :])


@lru_cache(maxsize=512)
def _many_rows(sql: str, count: int) -> str:
    """`sql` (one `_one_row` takes apart) with `count` rows of values."""
    parts = _one_row(sql)
    assert parts is not None, sql
    head, row, tail = parts
    return head + ", ".join([row] * count) + tail


@lru_cache(maxsize=64)
def _lateral(sql: str, count: int) -> str:
    """A read of `count` text values as one statement over arrays of them: the read runs once per row of
    values, and each row it returns ends with that row's position (`Store.ask_many`)."""
    columns = ", ".join(f"v{number}" for number in range(1, count + 1))
    head, *parts = sql.split("?")
    read = head + "".join(f"asked.v{number}{part}" for number, part in enumerate(parts, 1))
    read += "" if " LIMIT " in read else " OFFSET 0"  # a read per row of values, each planned as the read alone
    arrays = ", ".join(["?::text[]"] * count)
    return (
        f"SELECT found.*, asked.position FROM unnest({arrays}) WITH ORDINALITY AS asked({columns}, position)"
        f" CROSS JOIN LATERAL ({read}) AS found"
    )


def _without_last(row: Row) -> Row:
    trimmed = Row(tuple.__getitem__(row, slice(0, -1)))
    trimmed.names = _all_but_last(tuple(row.names))
    return trimmed


@lru_cache(maxsize=64)
def _all_but_last(names: tuple[str, ...]) -> dict[str, int]:
    return {name: index for index, name in enumerate(names[:-1])}


ROWS_TOGETHER = (32, 16, 8, 4, 2, 1)  # a few statement lengths, each prepared once, whatever a batch holds


class Row(tuple[Any, ...]):
    """A PostgreSQL row that reads like sqlite3.Row: by name, by position, and as a mapping."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        return tuple.__getitem__(self, self.names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self.names)


@lru_cache(maxsize=256)
def _names(fields: tuple[bytes | None, ...]) -> dict[str, int]:
    return {(name or b"?").decode(): i for i, name in enumerate(fields)}


class _Rows:
    """A statement's answer, read whole when it came (as libpq already holds it)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = iter(rows)
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return next(self._rows, None)

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return self._rows


class _Wire:
    """libpq's pipeline under a psycopg connection: every statement is sent without waiting, and
    `sync` waits once for all that were sent, raising the first failure as psycopg would.

    psycopg's cursor costs about 40 µs of client CPU a statement, pipelined or not; a transaction
    of one read and four writes took 250-380 µs through it and 80-90 µs here (both measured on this
    machine). Statements with parameters are prepared on their second use (a bounded few per
    connection), typed and formatted as psycopg's cursor does for `%s` (numbers in binary: in text, a
    batch's floats cost the writer 5 µs a delivery to format and the server up to 20 µs to parse); rows are
    loaded by psycopg's own loaders, so values are what its cursor returns."""

    PREPARED_MAX = 128  # a connection's prepared statements (the hot ones come first); later ones go unprepared
    PREPARED_PARAMS = 32  # statements with more parameters are IN lists of many lengths: not worth a plan each

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.pg = conn.pgconn
        self.adapt = Transformer.from_context(conn)
        self.encoding = conn.info.encoding
        self.prepared: dict[_Key, bytes] = {}
        self.seen: set[_Key] = set()
        self.made = 0  # prepared statements named so far: names are never reused
        self.pending: list[_Key | None] = []  # per command since the last sync: the key a prepare is for, else None
        self.held: dict[str, list[Sequence[Any]]] = {}  # INSERT rows waiting to go as one statement (`hold`)
        self.poll = select.poll()
        self.poll.register(self.pg.socket, select.POLLIN)
        self.pg.enter_pipeline_mode()

    def hold(self, sql: str, args: Sequence[Any]) -> None:
        """An INSERT row (`_one_row`) kept back: the rows of one statement go together before anything else is
        sent. An ingress batch wrote five single-row INSERTs a delivery; PostgreSQL's own time for a row of
        executions was 60-69 µs alone against 40-42 µs 25 to a statement (measured on this machine)."""
        self.held.setdefault(sql, []).append(args)

    def release(self) -> None:
        """Send the held rows: the tickets' first (the others' rows point at them), the rest in the order held."""
        held, self.held = self.held, {}
        for sql in sorted(held, key=lambda text: not text.startswith("INSERT INTO tickets ")):
            rows = held[sql]
            while rows:
                count = next(size for size in ROWS_TOGETHER if size <= len(rows))
                together, rows = rows[:count], rows[count:]
                self.send(_many_rows(sql, count), [value for row in together for value in row], many=True)

    def send(self, sql: str, args: Sequence[Any], *, many: bool = False) -> None:
        """`many`: rows sent together (`release`): prepared whatever the number of parameters."""
        if self.held:
            self.release()
        query, pg = _numbered(sql), self.pg
        if not args:
            pg.send_query_params(query, None)
            self.pending.append(None)
            return
        params = self.adapt.dump_sequence(args, [_AUTO] * len(args))
        formats = self.adapt.formats
        types = tuple(self.adapt.types or ())
        key = (query, types)
        name = self.prepared.get(key)
        if (
            name is None
            and key in self.seen
            and len(self.prepared) < self.PREPARED_MAX
            and (many or len(args) <= self.PREPARED_PARAMS)
        ):
            self.made += 1
            name = self.prepared[key] = b"gw%d" % self.made
            pg.send_prepare(name, query, types)
            self.pending.append(key)
        if name is None:
            if len(self.seen) > 8 * self.PREPARED_MAX:
                self.seen.clear()
            self.seen.add(key)
            pg.send_query_params(query, params, param_types=types, param_formats=formats)
        else:
            pg.send_query_prepared(name, params, param_formats=formats)
        self.pending.append(None)

    def sync(self) -> list[psycopg.pq.abc.PGresult]:
        """The results of the statements sent since the last sync, in order; the first failure raised."""
        if self.held:
            self.release()
        pending, self.pending = self.pending, []
        try:
            results = self._exchange()
        except BaseException:  # interrupted or disconnected half-way: no later answer could be matched
            self.pg.finish()
            raise
        failed = None
        statements = []
        for key, result in zip(pending, results, strict=True):
            status = result.status
            if status == _Status.FATAL_ERROR and failed is None:
                failed = result
            if key is None:
                statements.append(result)
            elif status != _Status.COMMAND_OK:  # not prepared (a failure, or aborted by an earlier one)
                self.prepared.pop(key, None)
        if failed is not None:
            raise psycopg.errors.error_from_result(failed, encoding=self.encoding)
        return statements

    def _exchange(self) -> list[psycopg.pq.abc.PGresult]:
        pg = self.pg
        pg.pipeline_sync()
        while pg.flush():  # nonblocking: 1 while some is left to send
            select.select([pg.socket], [pg.socket], [])
            pg.consume_input()
        results: list[psycopg.pq.abc.PGresult] = []
        while True:
            if pg.is_busy():
                self.poll.poll()
                pg.consume_input()
                continue
            result = pg.get_result()
            if result is None:  # the end of one statement's results
                continue
            if result.status == _Status.PIPELINE_SYNC:
                return results
            results.append(result)

    def rows(self, result: psycopg.pq.abc.PGresult) -> _Rows:
        if result.status != _Status.TUPLES_OK:
            return _Rows([], -1 if result.command_tuples is None else result.command_tuples)
        names = _names(tuple(result.fname(i) for i in range(result.nfields)))

        def make(values: Sequence[Any]) -> Row:
            row = Row(values)
            row.names = names
            return row

        self.adapt.set_pgresult(result)
        return _Rows(self.adapt.load_rows(0, result.ntuples, make), result.ntuples)

    def forget(self) -> None:
        """Prepared plans may no longer fit the tables (a migration ran): prepare again."""
        self.prepared.clear()
        self.seen.clear()
        self.send("DEALLOCATE ALL", ())
        self.sync()


class _PgTx:
    """A psycopg connection (autocommit; transactions are explicit) speaking `?`, over `_Wire`.

    Outside a pipelined transaction each statement is answered before the next is sent, so a write's
    failure is raised where it was made; only BEGIN waits for the first statement."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.wire = _Wire(conn)
        self.locked_keys: set[str] = set()  # advisory locks this transaction holds (`Store.lock_key`)
        self.locks_waiting: list[str] | None = None  # keys to lock in one statement (`Store.locks_together`)
        self.pipelined_now = False  # in a pipelined transaction (`Store.transaction`)

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor:
        self.wire.send(sql, args)
        return self.wire.rows(self.wire.sync()[-1])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        for args in rows:
            self.wire.send(sql, args)
        answered = self.wire.sync()
        return _Rows([], sum(result.command_tuples or 0 for result in answered))

    def execute_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Cursor]:
        """Several statements sent at once and answered in one round trip, in order."""
        for sql, args in statements:
            self.wire.send(sql, args)
        answered = self.wire.sync()
        return [self.wire.rows(result) for result in answered[len(answered) - len(statements) :]]

    def send(self, sql: str, args: Sequence[Any] = (), /) -> None:
        """A statement whose answer is not read: in a pipeline it goes with the next one that is."""
        if self.pipelined_now and _one_row(sql) is not None:
            self.wire.hold(sql, args)
        elif self.pipelined_now:
            self.wire.send(sql, args)
        else:
            self.execute(sql, args)

    def begin(self) -> None:
        self.locked_keys.clear()
        self.wire.send("BEGIN", ())  # goes with the transaction's first statement

    def rollback(self) -> None:
        with suppress(psycopg.Error):  # what was sent and not yet answered: its failure is the one raised
            self.wire.sync()
        self.execute("ROLLBACK")

    def flush(self) -> None:
        """In a pipeline: every statement sent so far is answered (a failure among them is raised here)."""
        if self.pipelined_now:
            self.wire.sync()

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """What is still unanswered at the end goes with the COMMIT (`Store.transaction`): one round trip."""
        self.pipelined_now = True
        try:
            yield
        except BaseException:
            self.wire.held.clear()  # rolled back, never sent (else the next statement, at last COMMIT, sends them)
            raise
        finally:
            self.pipelined_now = False

    @property
    def usable(self) -> bool:
        return not (self.conn.closed or self.conn.broken)

    def close(self) -> None:
        self.conn.close()


def unindexed(column: str) -> str:
    """`column` as an expression no index serves, where other predicates name the rows (an id, a ticket).
    Statistics taken while few executions were queued (a young table, or before a backlog) cost an index
    on status (or on target) no more than the id's or the ticket's: PostgreSQL cached that plan and read
    every queued execution (or every earlier one of a target) each time, a cost that grew with the log."""
    return f"({column} || '')"


def new_id() -> str:
    """32 hex digits: microseconds since the epoch, then 72 random bits. New rows land beside each other
    in every index on an id, where a random id put each insert on a random page of each, and a commit
    wrote every page its batch touched (random ids made an ingress batch up to a fifth slower at 50k events)."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(9).hex()}"


def _dumps(value: Any) -> str:
    """Compact JSON with sorted keys; msgspec (a tenth of json.dumps' time on the ingress path)."""
    try:
        return msgspec.json.encode(value, order="sorted").decode()
    except TypeError:  # a dict with keys other than str: json.dumps turns them into strings
        return json.dumps(value, separators=(",", ":"), sort_keys=True)


def describe(url: str) -> str:
    """The URL without its password, for logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class Store:
    """One database; a connection per thread and process (connections do not cross forks)."""

    def __init__(self, database: str | Path, busy_timeout: float = 30.0, *, migrate: bool = True) -> None:
        url = f"sqlite:///{database}" if isinstance(database, Path) else database
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres and not url.startswith("sqlite:///"):
            raise ValueError("GATEWAY_DATABASE_URL must be sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")
        self.path = Path(url[len("sqlite:///") :]) if not self.postgres else Path()
        self.for_update = " FOR NO KEY UPDATE" if self.postgres else ""  # SQLite's writer lock covers it
        self.busy_timeout = busy_timeout  # how long a writer queues for a lock before the request gets 503
        self._local = threading.local()
        self._opened: list[Any] = []
        self._writer_fds: list[int] = []  # SQLite: each thread's lock file (`writing`)
        self._opened_lock = threading.Lock()
        self._generation = 0  # bumped by close(): every thread's connection is stale after it
        if not self.postgres:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            self.migrate()

    # -- connections and transactions -----------------------------------------------------
    def connection(self) -> Tx:
        conn: Any = getattr(self._local, "conn", None)
        fresh = getattr(self._local, "key", None) == (os.getpid(), self._generation)
        if conn is not None and fresh and (not self.postgres or conn.usable):
            return conn  # type: ignore[no-any-return]
        conn = self._connect_pg() if self.postgres else self._connect_sqlite()
        self._local.conn, self._local.key = conn, (os.getpid(), self._generation)
        if not self.postgres:  # an open file description of its own: flock turns are per description
            self._local.writer_fd = os.open(f"{self.path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
        with self._opened_lock:
            self._opened.append(conn)
            if not self.postgres:
                self._writer_fds.append(self._local.writer_fd)
        return conn  # type: ignore[no-any-return]

    def _connect_sqlite(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # statement journals in memory: an insert that fires a counter trigger keeps one, and in a temp
        # file it cost that insert half its time (an execution's insert: 43 µs, 21 µs in memory, here)
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        # A commit that crosses SQLite's checkpoint threshold (1,000 pages) copies the WAL into the
        # database inside that commit, while the writer's turn is held: at 100 webhooks/s such commits
        # took 45-250 ms and every writer of every process waited. The sweepers checkpoint instead
        # (`checkpoint`, beside the writers); a commit does it only past this backstop (no sweeper ran).
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
        return conn

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database without taking the writer's turn (writers go on
        meanwhile), and start the log over once it is long and all copied (WAL_RESTART_FRAMES).
        PostgreSQL checkpoints on its own."""
        if self.postgres:
            return
        conn = self.connection()
        _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames <= WAL_RESTART_FRAMES or copied != frames:
            return
        try:  # a writer's turn, as writers queue for it; not had soon, the next checkpoint tries again
            with self.writing(within=WAL_RESTART_WAIT_S):
                conn.execute(f"PRAGMA busy_timeout={int(WAL_RESTART_WAIT_S * 1000)}")
                try:  # busy (a reader kept it past the wait): the next checkpoint tries again
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                finally:
                    conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        except sqlite3.OperationalError as exc:
            if not unavailable(exc):
                raise

    def _connect_pg(self) -> _PgTx:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        # a lock held longer than this is an outage to report (503), as SQLite's busy timeout is
        conn.execute(b"SELECT set_config('lock_timeout', %s, false)", (f"{int(self.busy_timeout * 1000)}ms",))
        return _PgTx(conn)

    @contextmanager
    def transaction(self, *, pipelined: bool = False) -> Iterator[Tx]:
        """A write transaction: SQLite takes its writer lock at once (writers queue instead of deadlocking);
        PostgreSQL relies on constraints, row locks and per-key advisory locks (`lock_key`).

        `pipelined` (PostgreSQL): statements sent with `send` wait for the next one whose answer is read,
        in one round trip; a failure of one is raised there, or by `flush`, or when the block ends."""
        conn = self.connection()
        with self.writing():
            piped: AbstractContextManager[None] = nullcontext()
            if isinstance(conn, _PgTx):
                conn.begin()
                piped = conn.pipelined() if pipelined else piped
            else:
                conn.execute("BEGIN IMMEDIATE")
            self._local.counts = {}
            try:
                with piped:
                    yield conn
                counts, self._local.counts = self._local.counts, None
                if counts:
                    self._add_counts(conn, counts, with_commit=True)
                conn.execute("COMMIT")
            except BaseException:
                self._local.counts = None
                with suppress(*DatabaseError):  # the connection is gone; so is the transaction
                    if isinstance(conn, _PgTx):
                        conn.rollback()
                    else:
                        conn.execute("ROLLBACK")
                raise

    def count(self, name: str, labels: str, value: float = 1) -> None:
        """Add to a /metrics counter (gateway.record.counters): with this thread's transaction, once per
        name and labels at its commit (nothing when it rolls back); outside one, at once."""
        pending: dict[tuple[str, str], float] | None = getattr(self._local, "counts", None)
        if pending is None:
            self._add_counts(self.connection(), {(name, labels): value}, with_commit=False)
        else:
            pending[name, labels] = pending.get((name, labels), 0) + value

    @staticmethod
    def _add_counts(conn: Tx, counts: dict[tuple[str, str], float], *, with_commit: bool) -> None:
        """In one statement, the rows in one order (two commits adding to the same rows queue rather than
        deadlock); on PostgreSQL `with_commit` sends it with the COMMIT, in the same round trip."""
        rows = sorted(counts.items())
        sql, args = add_counts(len(rows)), [part for (name, labels), value in rows for part in (name, labels, value)]
        if isinstance(conn, _PgTx) and with_commit:
            conn.wire.send(sql, args)  # answered with the COMMIT; its failure fails the commit
        else:
            conn.execute(sql, args)

    def send(self, tx: Tx, sql: str, args: Sequence[Any] = ()) -> None:
        """A write whose answer nobody reads: on PostgreSQL, in a pipelined transaction, no round trip of its own."""
        if isinstance(tx, _PgTx):
            tx.send(sql, args)
        else:
            tx.execute(sql, args)

    def ask(self, tx: Tx, query: Query[T]) -> T:
        return query.answer(tx.execute(query.sql, query.args))

    def ask_together(self, tx: Tx, queries: Sequence[Query[Any]]) -> list[Any]:
        """The answers in order, each statement run after the one before; on PostgreSQL all in one round
        trip (each a wait of its own made an ingress delivery four round trips long)."""
        if isinstance(tx, _PgTx):
            cursors = tx.execute_together([(query.sql, query.args) for query in queries])
            return [query.answer(cursor) for query, cursor in zip(queries, cursors, strict=True)]
        return [self.ask(tx, query) for query in queries]

    def ask_many(self, tx: Tx, queries: Sequence[Query[Any]]) -> list[Any]:
        """`ask_together` for reads only: on PostgreSQL the queries of one statement whose values are all text
        go as one statement, a row of values each (`_lateral`), so they run grouped, not in the order given.
        An ingress batch asked three reads a delivery, each a statement of its own."""
        if not isinstance(tx, _PgTx):
            return [self.ask(tx, query) for query in queries]
        groups: dict[str | int, list[int]] = {}  # a statement each: reads of one text-valued statement, else one read
        for index, query in enumerate(queries):
            texts = bool(query.args) and all(type(value) is str for value in query.args)
            groups.setdefault(query.sql if texts else index, []).append(index)
        asked = list(groups.values())
        statements: list[tuple[str, Sequence[Any]]] = []
        for group in asked:
            query = queries[group[0]]
            if len(group) == 1:
                statements.append((query.sql, query.args))
            else:
                columns = [[queries[member].args[column] for member in group] for column in range(len(query.args))]
                statements.append((_lateral(query.sql, len(query.args)), columns))
        answers: list[Any] = [None] * len(queries)
        for group, cursor in zip(asked, tx.execute_together(statements), strict=True):
            if len(group) == 1:
                answers[group[0]] = queries[group[0]].answer(cursor)
                continue
            rows: list[list[Any]] = [[] for _ in group]
            for row in cursor:  # its last column is the 1-based position of the query it answers
                rows[row[-1] - 1].append(_without_last(row))
            for member, found in zip(group, rows, strict=True):
                answers[member] = queries[member].answer(_Rows(found, len(found)))
        return answers

    def flush(self, tx: Tx) -> None:
        """What was sent has been answered: a failure among it is raised here."""
        if isinstance(tx, _PgTx):
            tx.flush()

    @contextmanager
    def writing(self, within: float | None = None) -> Iterator[None]:
        """SQLite: this thread's turn to write, among all the processes writing the file.

        SQLite's own busy handler sleeps 25-100 ms between tries once a writer has waited a little,
        so under a steady load the web's batches and the workers' claims and finishes took turns
        badly: workers sat idle with a backlog queued. Writers here take an flock on a file beside
        the database first and look again within 2 ms; SQLite's lock is then free when they ask (a
        writer from outside, such as the sqlite3 shell, still meets SQLite's busy handler). A turn
        not had within the busy timeout (or `within` seconds) is the same outage as a lock held that long (503)."""
        if self.postgres:
            yield
            return
        self.connection()  # opens this thread's lock file with its connection
        fd: int = self._local.writer_fd
        deadline, pause = time.monotonic() + (self.busy_timeout if within is None else within), 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked (no writer's turn in time)") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def probe(self) -> None:
        """Raises unless a webhook could write now (a lock held past the busy timeout is an outage)."""
        with self.transaction() as tx:
            if self.postgres:
                tx.execute("LOCK TABLE events IN ROW EXCLUSIVE MODE")

    def json_items(self, column: str) -> str:
        """A table of a JSON array column's items, as `value`."""
        return f"json_array_elements_text({column}::json) AS value" if self.postgres else f"json_each({column})"

    def lock_key(self, tx: Tx, key: str) -> None:
        """Serialise transactions about one correlation key until commit (SQLite's writer lock already does).
        A key this transaction holds is not asked for again (a round trip)."""
        if isinstance(tx, _PgTx) and key not in tx.locked_keys:  # what is read next waits for it
            if tx.locks_waiting is not None:
                tx.locks_waiting.append(key)
            else:
                tx.send("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))
            tx.locked_keys.add(key)

    @contextmanager
    def locks_together(self, tx: Tx) -> Iterator[None]:
        """PostgreSQL: the keys `lock_key` is given in the block are locked in that order by one statement sent
        at its end (an ingress batch sent a statement a key: most of its statements)."""
        if not isinstance(tx, _PgTx) or tx.locks_waiting is not None:
            yield
            return
        tx.locks_waiting = []
        try:
            yield
            keys = tx.locks_waiting
        finally:
            tx.locks_waiting = None
        if keys:  # unnest hands the keys over in the array's order, one lock after the other
            tx.send("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(?::text[]) AS k", (keys,))

    def migrate(self) -> int:
        """Apply the migrations this database lacks, once however many processes start at once; the version."""
        conn = self.connection()
        if self.postgres:
            conn.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            with self.transaction() as tx:
                row = tx.execute("SELECT max(version) AS v FROM schema_version").fetchone()
                current = row["v"] or 0
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in statements(version, self.postgres):
                        tx.execute(_pg_schema(statement) if self.postgres else statement)
                    tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            if isinstance(conn, _PgTx) and current < SCHEMA_VERSION:
                conn.wire.forget()
        finally:
            if self.postgres:
                conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
        return SCHEMA_VERSION

    def _one(self, sql: str, args: Sequence[Any] = (), tx: Tx | None = None) -> Any:
        return (tx or self.connection()).execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = (), tx: Tx | None = None) -> list[Any]:
        return (tx or self.connection()).execute(sql, args).fetchall()

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            fds, self._writer_fds = self._writer_fds, []
            self._generation += 1
        for conn in opened:
            with suppress(*DatabaseError):
                conn.close()
        for fd in fds:
            with suppress(OSError):
                os.close(fd)


def now() -> float:
    return time.time()
