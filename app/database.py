"""Engine settings that depend on the database.

SQLite: WAL so readers never wait for the writer, a busy timeout, foreign keys,
and write transactions that take the write lock up front. Without the last one,
two processes that read and then write inside deferred transactions fail at once
with "database is locked", whatever the busy timeout. This follows SQLAlchemy's
documented recipe: disable pysqlite's own BEGIN handling and emit our own.
"""

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wants_write_lock() -> bool:
    """True unless this is a read-only request.

    CLI jobs and POSTs take the lock up front. GET requests begin deferred so many
    readers run side by side; a GET that must write does so as the first statement
    of a fresh transaction, which waits on the busy timeout like any writer.
    """
    return not (has_request_context() and request.method in READ_ONLY_METHODS)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        # SQLite's own lower() only knows ASCII; searching "Élodie" must find "élodie",
        # as it does on PostgreSQL.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if wants_write_lock() else "BEGIN")


def render_migration_item(type_, obj, autogen_context):
    """Write our UTCDateTime as a plain timezone-aware DateTime in migrations.

    The conversion to and from UTC is Python-side; the column is an ordinary
    timestamp, and migrations should not import application code.
    """
    from .models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
