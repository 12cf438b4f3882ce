"""What every part of the benchmark shares: fresh databases, the app, a clock.

Each part gets its own database, built by the migrations (the schema production
has, indexes included), so one part's data never skews another's figures.
SQLite files live in ``bench/.data/``; PostgreSQL databases are named
``referloop_bench_<name>`` on the server of ``BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
