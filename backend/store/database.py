"""The connection to SQLite or PostgreSQL, and the migrations that shape it."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler
from starlette.concurrency import run_in_threadpool

from backend.errors import Refused

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions; a test keeps it equal to Alembic's head.
# Knowing it lets a start on an up-to-date schema skip importing Alembic (~85 ms).
HEAD = "0012"
CONNECT_TIMEOUT = 5
PING_IDLE = 5  # seconds a pooled PostgreSQL connection may sit unused and still be handed out without a ping
T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be reached or is not at the schema this code needs."""


def _engine_url(url: str) -> str:
    # SQLAlchemy's bare postgresql:// means psycopg2; Porch ships psycopg 3.
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def create_engine(url: str) -> sa.Engine:
    sqlite = url.startswith("sqlite:")
    connect_args = {}
    if not sqlite and "connect_timeout" not in sa.engine.make_url(url).query:
        # A server that does not answer (hung, or its host gone) costs a request a few seconds
        # and a 503, not psycopg's default wait of 130 s with a worker thread held all along.
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    engine = sa.create_engine(_engine_url(url), connect_args=connect_args)
    if not sqlite:
        _ping_idle_connections(engine)
    if sqlite:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers go on while a writer commits; busy_timeout makes
            # concurrent writers wait instead of failing with "database is locked".
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # 1 MB of pages a connection, not SQLite's 2 MB: the B-trees' upper pages, read by every query, stay
            # and the rest come from the OS's file cache. The portal's query took as long (54 against 55 us of
            # CPU on 100,000 customers); 512 KB took 58 us, for 1 MB less resident after bench/load.py's runs.
            cursor.execute("PRAGMA cache_size=-1000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection: sa.Connection) -> None:
            # A writing transaction takes the write lock up front: one that read first
            # and wrote later could not be serialised and would fail instead of waiting.
            write = connection.get_execution_options().get("porch_write", True)
            statement = "BEGIN IMMEDIATE" if write else "BEGIN"
            try:
                # Straight to the driver: SQLAlchemy's execute machinery would double the cost of a short read.
                driver: Any = connection.connection.driver_connection
                driver.execute(statement)
            except sqlite3.OperationalError as error:
                # Wrapped as SQLAlchemy wraps its own, so a lock held past busy_timeout is a 503, not a 500.
                raise sa.exc.OperationalError(statement, None, error) from error

    return engine


def _ping_idle_connections(engine: sa.Engine) -> None:
    """A server can drop connections (restart, failover, an idle timeout), so a connection that sat in the
    pool is pinged before it is handed out, and replaced if the ping fails. Not one used within the last
    PING_IDLE seconds: a ping is a round trip, and on every checkout it cost the portal's read a third
    of its time. A server that goes away within those seconds fails the requests then under way (503),
    as it would with any ping, and the pool starts afresh on the first such failure."""

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in", time.monotonic()) < PING_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever broke it, the connection is of no use
            raise sa.exc.DisconnectionError(str(exc)) from exc


def _alembic(connection: sa.Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision; safe to run at every start."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command

    with engine.begin() as connection:
        # Several processes starting at once would each create the tables; the first to take
        # the lock migrates, and the others then find the schema at head and do nothing.
        hold(connection, "porch:migrations")
        command.upgrade(_alembic(connection), "head")


class Compiled:
    """A statement compiled once per dialect and run on the driver's own cursor, for the hottest reads:
    SQLAlchemy's execution layer (parameters, result objects, events) costs more than such a query.

    It runs in the Connection's transaction like any other statement, and answers the driver's rows:
    plain tuples, with no type processing (a Boolean column may come as 0 or 1). A list given for an
    expanding bindparam (`column.in_(sa.bindparam(name, expanding=True))`) becomes one placeholder a value."""

    def __init__(self, statement: sa.ClauseElement, columns: tuple[str, ...] | None = None):
        """`columns`: the columns an INSERT sets, the others left to the database (an id it numbers)."""
        self.statement = statement
        self.columns = columns
        self.by_dialect: dict[str, _Form] = {}

    def rows(self, conn: sa.Connection, **params: Any) -> list[tuple[Any, ...]]:
        """The rows a query answers."""
        return self._run(conn, params, lambda cursor: cursor.fetchall())

    def run(self, conn: sa.Connection, **params: Any) -> int:
        """How many rows a change changed."""
        return self._run(conn, params, lambda cursor: cursor.rowcount)

    def _run(self, conn: sa.Connection, params: dict[str, Any], answer: Callable[[Any], Any]) -> Any:
        sql, values = self.driver_form(conn.dialect, **params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        # What listens to SQLAlchemy's statements (a tracer, a test) still sees these; with none, it costs a check.
        if listeners := conn.dispatch.before_cursor_execute:
            listeners(conn, cursor, sql, values, None, False)
        try:
            cursor.execute(sql, values)
            return answer(cursor)
        finally:
            cursor.close()

    def driver_form(self, dialect: sa.Dialect, **params: Any) -> tuple[str, Any]:
        """The SQL and the parameters as the dialect's driver takes them."""
        form = self.by_dialect.get(dialect.name) or self._compile(dialect)
        sql, values = form.sql, form.defaults | params
        if form.lists:
            sql = _EXPANDING.sub(lambda match: form.placeholders(match[1], values), sql)
        if form.order is None:
            return sql, values
        # qmark: positional, a list's values in its place
        return sql, tuple(v for name in form.order for v in (values[name] if name in form.lists else (values[name],)))

    def _compile(self, dialect: sa.Dialect) -> _Form:
        if dialect.paramstyle not in ("qmark", "pyformat"):
            raise NotImplementedError(f"{dialect.name}'s parameter style {dialect.paramstyle}")
        compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
        assert isinstance(compiled, SQLCompiler)  # a statement, not DDL
        order = list(compiled.positiontup or ()) if dialect.paramstyle == "qmark" else None
        form = _Form(compiled.string, order, dict(compiled.params), frozenset(_EXPANDING.findall(compiled.string)))
        self.by_dialect[dialect.name] = form
        return form


_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True)
class _Form:
    """A statement as one dialect's driver takes it: its SQL, the order of its positional parameters
    (None for named ones), the values of the parameters built into it, and the names of its lists."""

    sql: str
    order: list[str] | None
    defaults: dict[str, Any]
    lists: frozenset[str]

    def placeholders(self, name: str, values: dict[str, Any]) -> str:
        items = list(values[name]) or [None]  # IN (NULL) matches nothing, as SQLAlchemy renders an empty list
        if self.order is not None:
            values[name] = items
            return ", ".join("?" * len(items))
        values.update((f"{name}__{n}", v) for n, v in enumerate(items))
        return ", ".join(f"%({name}__{n})s" for n in range(len(items)))


HOLD = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


def hold(conn: sa.Connection, *names: str) -> None:
    """Hold these named locks until the transaction ends, so that what it checks and then
    writes is one step for every process.

    On PostgreSQL they are advisory locks, taken in sorted order so that two transactions
    wanting the same names cannot deadlock. SQLite's writing transactions are serial already."""
    if conn.dialect.name == "postgresql":
        for name in sorted(set(names)):
            conn.execute(HOLD, {"name": name})


def pending_migrations(engine: sa.Engine) -> bool:
    return current_revision(engine) != HEAD


class _Pending:
    """A function waiting for its group's transaction, and once that ended, what came of it."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]):
        self.fn, self.args = fn, args
        self.result: Any = None
        # Until it has run: a group cut short (an interrupt) must not answer its callers None.
        self.error: BaseException | None = DatabaseError("the transaction ended before this write ran")
        self.done = False


class Database:
    """Runs store functions in a transaction, off the event loop."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.inline_reads = engine.dialect.name == "sqlite"
        self.write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        # call_grouped's functions waiting for the write lock; whichever thread takes it next runs them all.
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        # SQLite's inline reads keep one connection: checking one out of the pool and back for each
        # read cost the portal more than its session query. Only the event loop's thread uses it, one
        # read at a time, as nothing awaits inside a read.
        self._reader: sa.Connection | None = None

    def run(self, fn: Callable[..., T], *args: Any, write: bool = True) -> T:
        if write and self.write_lock is not None:
            # SQLite has one writer; threads of this process queue here and are woken at once,
            # where SQLite's busy handler would have them sleep and poll, up to 100 ms a turn.
            with self.write_lock:
                return self._run(fn, args, write)
        return self._run(fn, args, write)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], write: bool, autocommit: bool = False) -> T:
        with self.engine.connect() as connection:
            connection.execution_options(porch_write=write, **{"isolation_level": "AUTOCOMMIT"} if autocommit else {})
            with connection.begin():
                try:
                    return fn(connection, *args)
                except Refused as refused:
                    kept = refused  # leaves the block normally: what it wrote commits (see errors.Refused)
            raise kept.error

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a function that writes, in one transaction."""
        return await run_in_threadpool(self.run, fn, *args)

    async def call_grouped(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a short function that writes, as `call` does but, on SQLite, in one transaction with the
        others of its kind waiting at the same moment (group commit), each under a savepoint of its own.

        SQLite takes one writer at a time, and under load the writer spent more of its turn committing
        than running sign-in's few statements. What each function wrote stays its own: one that raises
        loses its writes and only its caller sees the error (Refused keeps them, as in `run`), and
        none of them answers before the transaction that holds its writes has committed. The function
        must not depend on running alone in its transaction, nor call anything slow: the group waits."""
        if self.write_lock is None:
            return await self.call(fn, *args)
        return await run_in_threadpool(self._grouped, fn, args)

    def _grouped(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        mine = _Pending(fn, args)
        with self._queue_lock:
            self._queue.append(mine)
        assert self.write_lock is not None
        with self.write_lock:
            if not mine.done:  # else the writer before this thread ran it in its group
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._run_group(group)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _run_group(self, group: list[_Pending]) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execution_options(porch_write=True)
                with connection.begin():
                    driver: Any = connection.connection.driver_connection
                    for pending in group:
                        driver.execute("SAVEPOINT grouped")
                        try:
                            pending.result, pending.error = pending.fn(connection, *pending.args), None
                        except Refused as refused:
                            pending.error = refused.error
                        except Exception as error:
                            driver.execute("ROLLBACK TO grouped")
                            pending.error = error
                        driver.execute("RELEASE grouped")
        except Exception as error:  # the commit failed: nothing of the group was written
            for pending in group:
                pending.error, pending.result = error, None
        finally:
            for pending in group:
                pending.done = True

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a function that only reads.

        On SQLite it runs right here on the event loop: in WAL mode a reader never waits
        for a lock, and the read takes less time than the hop to a worker thread would,
        a hop whose fight for the GIL under load was most of the portal's p99.
        On PostgreSQL it runs in a worker thread.

        On both, the statements on the driver (Compiled) each run on their own, not in a transaction:
        each sees the store as last committed, as under PostgreSQL's READ COMMITTED every statement in a
        transaction does anyway. The portal's read saves the BEGIN and the COMMIT: two of five round
        trips on PostgreSQL, and on SQLite 6% of its instructions. A statement through SQLAlchemy
        (Connection.execute) still begins a transaction on SQLite, ended when `fn` returns. `fn` must not
        write, nor take a lock (hold) that it needs past its statement."""
        if self.inline_reads:
            return self._read_inline(fn, args)
        return await run_in_threadpool(self._run, fn, args, False, True)

    def _read_inline(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        reader = self._reader
        if reader is None or reader.closed or reader.invalidated:
            reader = self._reader = self.engine.connect().execution_options(porch_write=False)
        try:
            try:
                return fn(reader, *args)
            except Refused as refused:
                kept = refused
        finally:
            # A statement run through SQLAlchemy began a transaction (the compiled ones on the driver did not):
            # a read has nothing in it to keep.
            if reader.in_transaction():
                reader.rollback()
        raise kept.error

    def close(self) -> None:
        """Close every connection: the inline reader's and the pool's."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False
