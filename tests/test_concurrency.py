"""Many referrers at once: concurrent writers queue for the lock instead of failing.

A real threaded server and real HTTP clients, each with its own cookies: on
SQLite this is what BEGIN IMMEDIATE and the busy timeout are for.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app import create_app
from app.database import reading_connection, writing
from app.extensions import db
from app.models import OutboundEmail, Referral
from app.tokens import client_link_token
from tests.conftest import HttpBrowser, serving
from tests.factories import make_contact, make_touchpoint, make_user

REFERRERS = 12


def answer_the_form(url: str, n: int) -> int:
    """One referrer's browser: open the link, send one person; the POST's status."""
    browser = HttpBrowser()
    page = browser.get(url)
    return browser.post(
        url,
        {
            "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
            "submission_key": re.search(r'name="submission_key"[^>]*value="([^"]+)"', page).group(
                1
            ),
            "people-0-name": f"Person {n}",
            "people-0-email": f"person{n}@example.org",
            "people-0-intro_method": "mention_referrer",
            "people-0-consent": "y",
            "update_preference": "every_step",
            "action": "submit",
        },
    )


def test_simultaneous_submissions_all_succeed_and_each_is_saved_once(app):
    with app.app_context():
        user = make_user()
        links = [client_link_token(make_touchpoint(make_contact(user))) for _ in range(REFERRERS)]
    with serving(app) as base, ThreadPoolExecutor(max_workers=REFERRERS) as pool:
        urls = [f"{base}/r/{token}" for token in links]
        statuses = list(pool.map(answer_the_form, urls, range(REFERRERS)))

    assert statuses == [303] * REFERRERS
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == REFERRERS
        # A thank-you to each referrer and a notice to the professional for each answer.
        emails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
        assert emails == 2 * REFERRERS


def test_a_post_that_reads_first_takes_sqlites_write_lock_only_to_write(tmp_path):
    """SQLite has one writer: the referrer's form reads and checks without the lock
    (reading_connection), so other writers go on meanwhile, and holds it for the
    writing() block only, which commits, or rolls back when the block raises."""
    path = tmp_path / "lock.sqlite"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True}, str(tmp_path)
    )
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (n INTEGER)")
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)

    def other_writes(n: int) -> None:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO note VALUES (?)", (n,))
        other.execute("COMMIT")

    def count() -> int:
        return reading_connection().exec_driver_sql("SELECT count(*) FROM note").scalar()

    with app.test_request_context("/", method="POST"):
        db.session.execute(sa.text("SELECT count(*) FROM note"))
        # An ordinary POST holds the lock from its first statement.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_writes(1)
        db.session.rollback()

        assert count() == 0
        other_writes(2)  # not held while this request only reads
        assert count() == 1  # and each read sees the latest commit
        with writing() as connection:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other_writes(3)
            connection.exec_driver_sql("INSERT INTO note VALUES (4)")
        other_writes(5)  # committed and let go
        with pytest.raises(ZeroDivisionError), writing() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES (6)")
            1 / 0  # noqa: B018 (a failure inside the block)
        with writing() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES (7)")
            connection.rollback()  # the block changes its mind: nothing is kept
        other_writes(8)
        assert count() == 4

    assert [n for (n,) in other.execute("SELECT n FROM note ORDER BY n")] == [2, 4, 5, 8]
    other.close()


def test_a_writer_waits_for_the_lock_and_gives_up_after_the_busy_timeout(tmp_path):
    """SQLite's busy handler is off while a writer tries for the lock (it slept whole
    milliseconds past its release); the writer tries again itself, for as long as
    the busy timeout says, and then fails as any statement would."""
    path = tmp_path / "wait.sqlite"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "TESTING": True,
            "SQLITE_BUSY_TIMEOUT_MS": 300,
        },
        str(tmp_path),
    )
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (n INTEGER)")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def busy_timeout() -> int:
        return db.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar()

    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.1, other.execute, ["COMMIT"])
    release.start()
    with app.test_request_context("/", method="POST"):
        db.session.execute(sa.text("INSERT INTO note VALUES (1)"))  # waits for the COMMIT
        assert busy_timeout() == 300  # back for every other statement
        db.session.commit()
        db.session.remove()
    release.join()

    other.execute("BEGIN IMMEDIATE")  # and keeps it
    with app.test_request_context("/", method="POST"):
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            db.session.execute(sa.text("INSERT INTO note VALUES (2)"))
        db.session.remove()
    with app.test_request_context("/"):  # a GET: no lock asked for
        assert db.engine.pool.checkedin() == 1  # the connection that gave up
        assert busy_timeout() == 300
        db.session.remove()
    other.execute("COMMIT")
    assert [n for (n,) in other.execute("SELECT n FROM note")] == [1]
    other.close()
