"""What every part of the benchmark shares: fresh databases, the app, a clock.

Each part gets its own database, built by the migrations (the schema production
has, indexes included), so one part's data never skews another's figures.
SQLite files live in ``bench/.data/``; PostgreSQL databases are named
``referloop_bench_<name>`` on the server of ``BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET_KEY = "benchmark-secret-key-0123456789abcdef"


def database_url(kind: str, name: str) -> str:
    """The URL of an empty database called ``name``: ``kind`` is sqlite or postgresql.

    Whatever was there from an earlier run is dropped first.
    """
    if kind == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    database = f"referloop_bench_{name}"
    admin = sa.create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def app_config(url: str, **settings) -> dict:
    """Production-like settings for an app on ``url`` (not TESTING, not debug)."""
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": "http://127.0.0.1:8000",
        "MAIL_SERVER": None,
        # Sign-in is measured elsewhere; the benchmark signs in often.
        "PASSWORD_HASH_METHOD": "scrypt:16384:8:1",
        "SESSION_COOKIE_SECURE": False,
        **settings,
    }


def flask_env(url: str, **settings) -> dict:
    """The environment for a real ``flask``/``gunicorn`` process on ``url``.

    Only our FLASK_* settings: none inherited from the shell or instance/config.py.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    merged = {**app_config(url), **settings}
    for key, value in merged.items():
        if value is None:
            value = "null"
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"FLASK_{key}"] = str(value)
    return env


def make_app(url: str, **settings):
    """The Flask app on ``url``, its schema built by the migrations."""
    from flask_migrate import upgrade

    from app import create_app

    DATA.mkdir(parents=True, exist_ok=True)
    app = create_app(app_config(url, **settings), str(DATA / "instance"))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...``; ``elapsed()`` is the seconds so far."""
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def say(message: str) -> None:
    """Progress on stderr; figures go to the table and results.json."""
    import sys

    print(f"  {message}", file=sys.stderr, flush=True)


class Loader:
    """Bulk loading of plain rows (tuples in a table's column order), for test data.

    The ORM, and even Core's per-row bind processing, cost more than the database
    does here, so values are given as the driver stores them (the formats our
    column types write) and go in with the driver's bulk path: executemany in
    chunks on SQLite, COPY on PostgreSQL.
    """

    def __init__(self, connection, chunk: int = 5_000):
        self.connection = connection
        self.chunk = chunk
        self.sqlite = connection.dialect.name == "sqlite"
        self.yes, self.no = (1, 0) if self.sqlite else (True, False)
        if self.sqlite:
            # A page cache that holds the indexes being filled (names arrive in random
            # order); the default 2 MB rereads index pages on most inserts. This
            # connection only: it is closed before anything is measured.
            connection.exec_driver_sql("PRAGMA cache_size = -524288")

    # Cached: generated rows repeat a few thousand dates and times, and making their
    # text costs more than inserting them.
    @functools.cache  # noqa: B019 (one loader per database, dropped after the load)
    def time(self, value: datetime | None):
        """A UTC datetime as UTCDateTime stores it (naive text on SQLite)."""
        if value is None or not self.sqlite:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    @functools.cache  # noqa: B019
    def day(self, value: date | None):
        return value.isoformat() if value is not None and self.sqlite else value

    def money(self, value: Decimal | None):
        return float(value) if value is not None and self.sqlite else value

    def flag(self, value: bool):
        return self.yes if value else self.no

    def load(self, table: str, columns: str, rows) -> int:
        """Insert ``rows`` into ``table`` (``columns``: names separated by spaces)."""
        names = columns.split()
        quoted = ", ".join(f'"{name}"' for name in names)
        count = 0
        if self.sqlite:
            marks = ", ".join("?" * len(names))
            # Our own table and column names, never input: S608 does not apply.
            statement = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'  # noqa: S608
            chunk = []
            for row in rows:
                chunk.append(row)
                if len(chunk) == self.chunk:
                    self.connection.exec_driver_sql(statement, chunk)
                    count, chunk = count + len(chunk), []
            if chunk:
                self.connection.exec_driver_sql(statement, chunk)
                count += len(chunk)
            return count
        cursor = self.connection.connection.driver_connection.cursor()
        # The rows are consistent by construction: skip the per-row foreign key
        # triggers, as pg_restore does (the role goes back to normal at commit).
        # psycopg's executemany managed about 20,000 rows a second; COPY ten times that.
        cursor.execute("SET LOCAL session_replication_role = replica")
        with cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        # Explicit ids leave the sequence behind; what is measured later inserts rows.
        if "id" in names:
            sequence = f"pg_get_serial_sequence('\"{table}\"', 'id')"
            highest = f'SELECT max(id) FROM "{table}"'  # noqa: S608 (our own table names)
            self.connection.exec_driver_sql(f"SELECT setval({sequence}, ({highest}))")
        return count


def main(measure: Callable[[str, bool], dict], doc: str) -> None:
    """``python -m bench.<part> [--kind postgresql] [--quick]``: one part's figures."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--kind", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(measure(args.kind, args.quick), indent=2, ensure_ascii=False))
