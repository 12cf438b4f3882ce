"""``flask outbox ...`` and ``flask demo`` as cron and a new developer use them."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Contact,
    EmailState,
    OutboundEmail,
    Referral,
    ReferralEvent,
    Touchpoint,
    TouchpointState,
    User,
)
from app.tokens import LinkState, read_client_link
from tests.conftest import count_rows
from tests.test_mail import note_template, queue, refuse  # noqa: F401 (fixture)


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config}


def test_outbox_deliver_prints_a_summary(runner, ctx, smtp_server):
    smtp_server.handler.fail_next = 1
    queue(4)

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Sent 3, will retry 1, failed 0."
    assert len(smtp_server.handler.messages) == 3


def test_outbox_deliver_exits_0_when_an_email_fails_for_good(runner, ctx, smtp_server):
    refuse(smtp_server.handler, "gone@example.com")
    queue(to_email="gone@example.com")

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0
    assert result.output.strip() == "Sent 0, will retry 0, failed 1."


def test_outbox_deliver_with_a_limit(runner, ctx, smtp_server):
    queue(3)

    result = runner.invoke(args=["outbox", "deliver", "--limit", "2"])

    assert result.output.strip() == "Sent 2, will retry 0, failed 0."
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.QUEUED) == 1


def test_outbox_deliver_without_a_mail_server_says_where_the_email_waits(
    app, runner, ctx, smtp_server
):
    app.config["MAIL_SERVER"] = None
    queue(3)

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0
    assert result.output.strip() == (
        "No SMTP server configured (FLASK_MAIL_SERVER); 3 emails are waiting in the Outbox page."
    )
    assert smtp_server.handler.messages == []
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.QUEUED) == 3


def test_outbox_list_shows_states_and_the_last_error(runner, ctx, smtp_server):
    refuse(smtp_server.handler, "gone@example.com")
    queue(to_email="gone@example.com", subject="About your return")
    queue(to_email="kept@example.com")
    runner.invoke(args=["outbox", "deliver"])

    everything = runner.invoke(args=["outbox", "list"]).output
    failed = runner.invoke(args=["outbox", "list", "--state", "failed"]).output

    assert "sent" in everything and "failed" in everything
    assert "gone@example.com  About your return" in failed
    assert "last error: 550 5.1.1 No such user here" in failed
    assert "kept@example.com" not in failed


# flask demo ---------------------------------------------------------------------

PASSWORD = re.compile(r"Password: (\S+)")
LINK = re.compile(r"(http://\S+/r/(\S+))")


def run_demo(runner) -> tuple[str, str, str]:
    """Run ``flask demo``; the output, the password and the client link it printed."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    link = LINK.search(result.output)
    assert link, result.output
    return result.output, PASSWORD.search(result.output).group(1), link.group(1)


def demo_counts() -> tuple[int, ...]:
    return tuple(
        count_rows(model) for model in (User, Contact, Touchpoint, Referral, ReferralEvent)
    )


def test_demo_prints_the_sign_in_and_a_live_client_link(runner, ctx):
    output, password, link = run_demo(runner)

    assert "demo@referloop.test" in output
    assert "http://127.0.0.1:5000/login" in output
    user = db.session.scalar(sa.select(User).where(User.email == "demo@referloop.test"))
    assert user.check_password(password)
    opened = read_client_link(link.rsplit("/", 1)[1])
    assert opened.state == LinkState.VALID
    assert opened.touchpoint.user_id == user.id
    assert opened.touchpoint.due_on <= date.today()


def test_the_demo_client_link_opens_the_form(runner, client, ctx):
    _, _, link = run_demo(runner)

    assert client.get(urlsplit(link).path).status_code == 200


def test_demo_seeds_contacts_of_several_kinds_touchpoints_and_referrals(runner, ctx):
    run_demo(runner)

    kinds = set(db.session.scalars(sa.select(Contact.kind)))
    assert {"client", "vendor", "colleague", "friend_family"} <= kinds
    assert count_rows(Contact) >= 8
    touchpoints = db.session.scalars(sa.select(Touchpoint)).all()
    assert any(t.is_overdue for t in touchpoints)
    assert any(t.state == TouchpointState.ANSWERED for t in touchpoints)
    assert any(t.state == TouchpointState.PLANNED and not t.is_overdue for t in touchpoints)
    assert count_rows(Referral) >= 3
    assert count_rows(ReferralEvent) > count_rows(Referral)  # a history, not just "created"


def test_running_demo_again_adds_nothing_and_gives_a_new_password(runner, ctx):
    _, first_password, first_link = run_demo(runner)
    counts = demo_counts()

    output, password, link = run_demo(runner)

    assert demo_counts() == counts
    assert "password reset" in output
    assert password != first_password
    user = db.session.scalar(sa.select(User).where(User.email == "demo@referloop.test"))
    assert user.check_password(password) and not user.check_password(first_password)
    assert read_client_link(link.rsplit("/", 1)[1]).state == LinkState.VALID
    assert read_client_link(first_link.rsplit("/", 1)[1]).state == LinkState.VALID  # same link


def test_demo_prints_a_working_link_even_after_its_link_was_revoked(runner, ctx):
    _, _, first_link = run_demo(runner)
    touchpoint = read_client_link(first_link.rsplit("/", 1)[1]).touchpoint
    touchpoint.revoke_link()
    db.session.commit()

    _, _, link = run_demo(runner)

    assert read_client_link(link.rsplit("/", 1)[1]).state == LinkState.VALID


def test_the_demo_sign_in_works_through_the_sign_in_page(runner, client, auth, app):
    _, password, _ = run_demo(runner)
    response = auth.login("demo@referloop.test", password)
    assert response.status_code == 303
    home = client.get("/")
    assert home.status_code == 200
    assert "Priya Shah" in home.get_data(as_text=True)


# flask worker ------------------------------------------------------------------------


def due_automatic_touchpoint() -> int:
    """A touchpoint due today that sends itself; its id."""
    from tests.factories import make_contact, make_touchpoint, make_user

    contact = make_contact(make_user(), name="Ann Lee", email="ann@example.net")
    touchpoint_id = make_touchpoint(contact, auto_send=True).id
    db.session.rollback()  # end the test's transaction: the worker takes the write lock
    return touchpoint_id


def test_worker_once_plans_queues_and_delivers_in_one_round(runner, ctx, smtp_server, caplog):
    caplog.set_level(logging.INFO, logger="referloop.worker")
    touchpoint_id = due_automatic_touchpoint()

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    (message,) = smtp_server.handler.messages
    assert message["To"].addresses[0].addr_spec == "ann@example.net"
    assert db.session.get(Touchpoint, touchpoint_id).state == TouchpointState.SENT
    assert (
        "Queued 1 touchpoint email; planned 0 next touchpoints. Sent 1, will retry 0, failed 0."
        in caplog.messages
    )


def test_worker_once_without_a_mail_server_says_the_email_waits(app, runner, ctx, caplog):
    app.config["MAIL_SERVER"] = None
    caplog.set_level(logging.INFO, logger="referloop.worker")
    due_automatic_touchpoint()

    assert runner.invoke(args=["worker", "--once"]).exit_code == 0

    assert any("No SMTP server configured; 1 email waiting" in m for m in caplog.messages)


def test_a_failing_round_is_logged_rolled_back_and_the_worker_carries_on(
    app, ctx, smtp_server, monkeypatch, caplog
):
    from sqlalchemy.exc import OperationalError

    from app.touchpoints import commands
    from app.worker import Worker

    caplog.set_level(logging.INFO, logger="referloop.worker")
    due_automatic_touchpoint()
    real_send_due = commands.send_due
    worker = Worker(interval=0)
    rounds = []

    def flaky_send_due(today=None):
        rounds.append(today)
        if len(rounds) == 1:
            db.session.add(Contact(user_id=1, name="Half-written"))
            db.session.flush()
            raise OperationalError("UPDATE touchpoint ...", {}, Exception("server closed"))
        worker.stopping = True  # as SIGTERM would: this round is the last
        return real_send_due(today)

    monkeypatch.setattr(commands, "send_due", flaky_send_due)

    assert worker.run() is True  # the second round succeeded

    assert len(rounds) == 2
    assert count_rows(Contact, Contact.name == "Half-written") == 0  # rolled back
    assert len(smtp_server.handler.messages) == 1
    assert any("Worker round failed" in m for m in caplog.messages)


def test_worker_once_exits_1_when_its_round_fails(runner, ctx, monkeypatch):
    from app.touchpoints import commands

    def broken(today=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "send_due", broken)

    assert runner.invoke(args=["worker", "--once"]).exit_code == 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_running_worker_stops_cleanly_on_a_signal(database_url, ctx, stop):
    from tests.test_outbox_concurrency import ROOT, flask_env

    db.session.rollback()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--interval", "60"],
        cwd=ROOT,
        env=flask_env(database_url),
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("Queued 0 touchpoint emails" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        stopped_at = time.monotonic()
        process.send_signal(stop)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - stopped_at < 5  # not the rest of its 60 s wait
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    process.stderr.close()
    log = "".join(lines)
    assert f"{stop.name} received: stopping after this round." in log
    assert log.rstrip().endswith("Worker stopped.")
    assert "Traceback" not in log
