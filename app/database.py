"""Engine settings that depend on the database, and the connections requests use.

SQLite: WAL so readers never wait for the writer, a busy timeout, foreign keys,
and write transactions that take the write lock up front. Without the last one,
two processes that read and then write inside deferred transactions fail at once
with "database is locked", whatever the busy timeout. This follows SQLAlchemy's
documented recipe: disable pysqlite's own BEGIN handling and emit our own.

SQLite has one writer at a time, so a POST that held the lock while it checked
a form and rendered emails would make every other POST wait for all of that.
The referrer's form reads on ``reading_connection()``, without the lock, and
writes inside ``writing()``, which holds the lock for its block only.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .extensions import db

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# connection.info key: the connection's busy timeout, in seconds.
_BUSY_TIMEOUT = "referloop_busy_timeout"
# How long a writer sleeps between tries for SQLite's write lock: short at first,
# since the lock is usually held for about a millisecond (see _begin_immediate).
_FIRST_TRIES_S, _SHORT_SLEEP_S, _LONG_SLEEP_S = 0.01, 0.0002, 0.002
# Where a request keeps its reading_connection().
_READING_CONNECTION = "referloop_reading_connection"
# Execution option of a SQLite connection from reading_connection(): its
# transaction emits no BEGIN, so each statement reads on its own.
_EACH_STATEMENT_ALONE = "referloop_each_statement_alone"


def wants_write_lock() -> bool:
    """True unless this is a read-only request: CLI jobs and POSTs take SQLite's
    lock up front; GET requests begin deferred, so many readers run side by side,
    and a GET that must write does so as the first statement of a fresh
    transaction, which waits on the busy timeout like any writer."""
    return not has_request_context() or request.method not in READ_ONLY_METHODS


@contextmanager
def writing() -> Iterator[Connection]:
    """A transaction of plain statements, off the session, for a view that read on
    ``reading_connection()``: committed at the end of the block, rolled back if it
    raises; the block may roll back itself, and then nothing is committed.

    What the view read may have changed by now (another request may have committed
    in between), so the writes check again what they rely on: conditional UPDATEs,
    unique constraints. On SQLite the transaction runs on the reading connection
    itself, with the write lock taken as it begins (``_begin_immediate``) and held
    for the block only; on PostgreSQL, on a connection from the pool. A view that
    writes this way leaves the session alone.

    The session and its unit of work are left out: for the referrer's form they
    cost more than the statements (taking the session's connection and committing
    through it was 6% of a submission's instructions, callgrind).
    """
    sqlite = db.engine.dialect.name == "sqlite"
    connection = _kept_connection() if sqlite else db.engine.connect()
    try:
        if sqlite and connection.in_transaction():  # reads, with no BEGIN (_on_begin)
            connection.rollback()
        connection.begin()
        if sqlite:
            _begin_immediate(connection)
        yield connection
        if connection.in_transaction():
            connection.commit()
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        raise
    finally:
        if not sqlite:
            connection.close()


def _begin_immediate(connection) -> None:
    """BEGIN IMMEDIATE: take SQLite's write lock, waiting up to the busy timeout.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ms and more between its tries,
    however soon the lock is free; a writer holds it for about a millisecond, so
    under load the second of two workers slept past that and its core sat idle.
    Here the busy handler is off for the BEGIN, and it is tried again every
    fifth of a millisecond for the first 10 ms, then every 2 ms.
    """
    dbapi_connection = connection.connection.driver_connection
    timeout = connection.info[_BUSY_TIMEOUT]
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        started = time.monotonic()
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - started
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # and its variants
                if not busy or waited >= timeout:
                    # Once more through SQLAlchemy, to fail as every statement does.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                    break
            time.sleep(_SHORT_SLEEP_S if waited < _FIRST_TRIES_S else _LONG_SLEEP_S)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def reading_connection() -> Connection:
    """A connection for a request that only reads (the referrer's pages).

    It reads without a transaction around its statements: each one sees the
    latest commit, and the page saves the BEGIN and ROLLBACK around its few
    queries (a quarter of the form page's time on PostgreSQL, a twentieth
    on SQLite). PostgreSQL runs it in autocommit. On SQLite the connection's
    transaction simply emits no BEGIN (see ``_on_begin``).

    It is the engine's, not the session's: a session's transaction, taken and
    closed for one statement, cost the form page a twentieth of its time. And a
    process keeps one such connection from one request to the next (``_spare``):
    taking one from the pool, setting it up and giving it back cost the form page
    about a twelfth more (1.06 to 1.36 ms of a worker's time with it kept, 1.15
    to 1.49 ms without). Once the session is in a transaction, this is the
    session's connection, so what the request wrote is what it reads.
    """
    if db.session.registry.has() and db.session().in_transaction():
        return db.session().connection()
    return _kept_connection()


def _kept_connection() -> Connection:
    """The request's connection outside the session: the process's spare, or a new one."""
    connection = g.get(_READING_CONNECTION)
    if connection is None:
        engine = db.engine
        connection = _spare.pop(engine, None)
        if connection is None or connection.closed or connection.invalidated:
            if engine.dialect.name == "sqlite":
                options = {_EACH_STATEMENT_ALONE: True}
            else:
                options = {"isolation_level": "AUTOCOMMIT"}
            connection = engine.connect().execution_options(**options)
        setattr(g, _READING_CONNECTION, connection)
    return connection


def close_reading_connection(exception=None) -> None:
    """The request's end (a teardown function): its reading connection becomes the
    process's spare for the next request, unless there is one already (another
    thread's request was reading meanwhile) or the request failed: then it goes
    back to the pool, so a request that went wrong never hands on its connection."""
    connection = g.pop(_READING_CONNECTION, None)
    if connection is None:
        return
    engine = connection.engine
    kept = (
        exception is None
        and not connection.invalidated
        and _spare.setdefault(engine, connection) is connection
    )
    if not kept:
        connection.close()
    elif not event.contains(engine, "engine_disposed", _close_spare):
        event.listen(engine, "engine_disposed", _close_spare)


# The reading connection each engine keeps between requests (at most one per
# process: a request takes it when it is there, another makes its own).
_spare: dict[Engine, Connection] = {}


def _close_spare(engine: Engine) -> None:
    """Close the engine's spare reading connection as the engine is disposed of:
    for good (``invalidate``), since the pool it came from is gone already."""
    connection = _spare.pop(engine, None)
    if connection is not None:
        connection.invalidate()
        connection.close()


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def configure_engine(engine: Engine, busy_timeout_ms: int, wal_autocheckpoint: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        record.info[_BUSY_TIMEOUT] = busy_timeout_ms / 1000
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        # SQLite's own lower() only knows ASCII; searching "Élodie" must find "élodie",
        # as it does on PostgreSQL.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(_EACH_STATEMENT_ALONE):
            return  # each statement is its own read (reading_connection; see writing)
        if wants_write_lock():
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")


def render_migration_item(type_, obj, autogen_context):
    """Write our UTCDateTime as a plain timezone-aware DateTime in migrations.

    The conversion to and from UTC is Python-side; the column is an ordinary
    timestamp, and migrations should not import application code.
    """
    from .models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
