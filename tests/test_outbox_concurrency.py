"""Delivery that holds under concurrency, with real processes.

Several ``flask --app wsgi outbox deliver`` processes start at once against the
test database (SQLite file, or PostgreSQL with REFERLOOP_TEST_DATABASE_URL) and
a real SMTP server on loopback. Every email must arrive exactly once: the
Message-IDs the server received are counted. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import EmailState, OutboundEmail, utcnow
from tests.conftest import count_rows

ROOT = Path(__file__).resolve().parent.parent
EMAILS = 300
STALE = 10  # of those, left in SENDING by a sender that was killed, its lease run out
PROCESSES = int(os.environ.get("P", 4))


def flask_env(database_url: str, smtp_port: int | None = None, **settings) -> dict:
    """The environment of a real ``flask --app wsgi`` process on the test database.

    Only our FLASK_* settings: none inherited from the shell, and those a
    developer's instance/config.py might set are pinned too.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update(
        FLASK_SQLALCHEMY_DATABASE_URI=database_url,
        FLASK_SECRET_KEY="concurrency-test-secret-key-0123456789",
        FLASK_MAIL_SERVER="127.0.0.1" if smtp_port else "null",
        FLASK_MAIL_PORT=str(smtp_port or 25),
        FLASK_MAIL_USE_TLS="false",
        FLASK_MAIL_USE_SSL="false",
        FLASK_MAIL_USERNAME="null",
        FLASK_MAIL_DEFAULT_SENDER="Referloop <no-reply@referloop.test>",
        FLASK_BASE_URL="http://referloop.example.com",
    )
    env.update({f"FLASK_{key}": str(value) for key, value in settings.items()})
    return env


def run_at_once(args: list[str], processes: int, env: dict) -> tuple[list[str], float]:
    """Start ``processes`` copies of ``flask --app wsgi <args>`` together; their outputs
    and the seconds until the last one finished. Each must exit 0."""
    # End the test's own transaction: on SQLite it would hold the write lock.
    db.session.rollback()
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    started = time.monotonic()
    running = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    outputs = []
    for process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{' '.join(args)} failed:\n{out}\n{err}"
        outputs.append(out.strip())
    return outputs, time.monotonic() - started


def database_name(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def queue_rows(n: int) -> list[OutboundEmail]:
    """Queued emails, written directly: delivery reads only what the row holds."""
    rows = [
        OutboundEmail(
            template="note",
            to_email=f"referrer{i}@example.com",
            to_name=f"Referrer {i}",
            subject=f"Note {i}",
            body_text=f"Hello {i}",
            body_html=f"<p>Hello {i}</p>",
            message_id=make_msgid(domain="referloop.test"),
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_several_deliver_processes_send_every_email_exactly_once(
    app, ctx, database_url, smtp_server
):
    emails = queue_rows(EMAILS + 1)
    now = utcnow()
    # A sender killed mid-run left these claimed; their lease has run out.
    for email in emails[:STALE]:
        email.state, email.claimed_until = EmailState.SENDING, now - timedelta(minutes=1)
    # This one is claimed by a sender still at work: nobody else may touch it.
    busy = emails[-1]
    busy.state, busy.claimed_until = EmailState.SENDING, now + timedelta(minutes=5)
    db.session.commit()
    expected = {email.message_id for email in emails[:-1]}
    busy_id = busy.id

    outputs, seconds = run_at_once(
        ["outbox", "deliver"],
        PROCESSES,
        flask_env(database_url, smtp_server.port, OUTBOX_BATCH_SIZE=20),
    )

    received = [message["Message-ID"] for message in smtp_server.handler.messages]
    duplicates = len(received) - len(set(received))
    per_process = [int(out.split()[1].rstrip(",")) for out in outputs]
    print(
        f"\n[outbox deliver on {database_name(database_url)}] {EMAILS} emails "
        f"({STALE} stale claims), {PROCESSES} processes, {seconds:.2f} s, "
        f"{len(received)} received, {duplicates} duplicates; sent per process: {per_process}"
    )
    assert duplicates == 0
    assert len(received) == EMAILS
    assert set(received) == expected
    assert sum(per_process) == EMAILS
    db.session.expire_all()
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.SENT) == EMAILS
    assert (
        count_rows(
            OutboundEmail, OutboundEmail.state == EmailState.SENT, OutboundEmail.attempts == 1
        )
        == EMAILS
    )
    left = db.session.get(OutboundEmail, busy_id)
    assert (left.state, left.attempts) == (EmailState.SENDING, 0)

    # A later run finds nothing more to send.
    outputs, _ = run_at_once(["outbox", "deliver"], 1, flask_env(database_url, smtp_server.port))
    db.session.rollback()
    assert outputs == ["Sent 0, will retry 0, failed 0."]
    assert len(smtp_server.handler.messages) == EMAILS
    assert db.session.scalar(sa.select(sa.func.max(OutboundEmail.attempts))) == 1
