"""The Outbox pages: the professional's emails, their state, reading them, retrying failures."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import EmailState, OutboundEmail, utcnow
from tests.conftest import post_form
from tests.factories import make_user

_seq = itertools.count(1)


def make_email(user, **fields) -> OutboundEmail:
    """An outbox row as ``queue_email`` would leave it, then adjusted by ``fields``."""
    n = next(_seq)
    fields.setdefault("template", "touchpoint")
    fields.setdefault("to_name", f"Recipient {n}")
    fields.setdefault("to_email", f"recipient{n}@example.net")
    fields.setdefault("reply_to", user.email)
    fields.setdefault("subject", f"Subject number {n}")
    fields.setdefault("body_text", f"Plain body {n}")
    fields.setdefault("body_html", f"<p>HTML body {n}</p>")
    fields.setdefault("message_id", f"<{n}.test@referloop.test>")
    fields.setdefault("created_at", utcnow() - timedelta(minutes=100 - n))
    email = OutboundEmail(user_id=user.id, **fields)
    db.session.add(email)
    db.session.commit()
    return email


def settled():
    """End the test's own transaction so the app can take the SQLite write lock."""
    db.session.rollback()


def fresh(ident) -> OutboundEmail:
    db.session.expire_all()
    return db.session.get(OutboundEmail, ident)


def subjects_in_order(html: str) -> list[str]:
    return re.findall(r"(Subject number \d+)</a>", html)


@pytest.fixture
def other_email(ctx):
    other = make_user("other@example.com")
    return make_email(other, subject="Someone else's email", state=EmailState.FAILED)


def test_outbox_lists_my_emails_newest_first_and_not_anyone_elses(signed_in, user, other_email):
    older = make_email(user)
    newer = make_email(user)
    settled()

    html = signed_in.get("/outbox/").get_data(as_text=True)

    assert subjects_in_order(html) == [newer.subject, older.subject]
    assert "Someone else" not in html
    assert newer.to_email in html
    assert "outbox deliver" in html


def test_without_a_mail_server_the_outbox_says_emails_wait_here(app, signed_in, user):
    make_email(user)
    settled()
    html = signed_in.get("/outbox/").get_data(as_text=True)
    assert "No mail server is set up yet" in html
    app.config["MAIL_SERVER"] = "smtp.example.test"
    assert "No mail server is set up yet" not in signed_in.get("/outbox/").get_data(as_text=True)


def test_empty_outbox_explains_what_will_appear(signed_in):
    html = signed_in.get("/outbox/").get_data(as_text=True)
    assert "No emails yet." in html


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("queued", {"waiting", "waiting-retried"}),
        ("sent", {"delivered", "delivered-retried"}),
        ("failed", {"failed"}),
        ("retried", {"waiting-retried", "delivered-retried"}),
        ("", {"waiting", "waiting-retried", "delivered", "delivered-retried", "failed"}),
        ("nonsense", {"waiting", "waiting-retried", "delivered", "delivered-retried", "failed"}),
    ],
)
def test_outbox_filters_by_state(signed_in, user, state, expected):
    now = utcnow()
    make_email(user, subject="waiting")
    make_email(user, subject="waiting-retried", attempts=2, last_error="421 busy")
    make_email(user, subject="delivered", state=EmailState.SENT, attempts=1, sent_at=now)
    make_email(user, subject="delivered-retried", state=EmailState.SENT, attempts=3, sent_at=now)
    make_email(
        user,
        subject="failed",
        state=EmailState.FAILED,
        attempts=8,
        last_error="550 mailbox unavailable",
    )
    settled()

    html = signed_in.get(f"/outbox/?state={state}").get_data(as_text=True)

    shown = set(re.findall(r'/outbox/\d+">([a-z-]+)</a>', html))
    assert shown == expected
    if "failed" in expected:
        assert "550 mailbox unavailable" in html  # the reason it failed, in the list


def test_outbox_is_paginated_and_keeps_the_filter(app, signed_in, user):
    app.config["PER_PAGE"] = 2
    emails = [make_email(user, state=EmailState.FAILED) for _ in range(3)]
    make_email(user)  # queued: not in the failed list
    settled()

    first = signed_in.get("/outbox/?state=failed").get_data(as_text=True)
    second = signed_in.get("/outbox/?state=failed&page=2").get_data(as_text=True)

    assert subjects_in_order(first) == [emails[2].subject, emails[1].subject]
    assert "Page 1 of 2" in first
    assert 'href="/outbox/?page=2&amp;state=failed"' in first
    assert subjects_in_order(second) == [emails[0].subject]


def test_email_page_shows_headers_and_both_bodies_as_text(signed_in, user):
    email = make_email(
        user,
        to_name="Ann Lee",
        to_email="ann@example.net",
        subject="A quick question from Dana Reyes",
        body_text="Hi Ann <script>alert(1)</script>\n\nhttp://localhost/r/abc",
        body_html='<p>Hi Ann</p><a href="http://localhost/r/abc">Go</a>',
        attempts=2,
        last_error="421 try later",
    )
    settled()

    html = signed_in.get(f"/outbox/{email.id}").get_data(as_text=True)

    assert "Ann Lee &lt;ann@example.net&gt;" in html
    assert user.email in html  # Reply-To
    assert email.message_id.strip("<>") in html
    assert "421 try later" in html
    assert "Waiting to send" in html
    assert re.search(
        r'<pre class="email-body">Hi Ann &lt;script&gt;alert\(1\)&lt;/script&gt;', html
    )
    assert "<script>alert(1)" not in html
    # The HTML version is shown as code, never rendered.
    assert "&lt;p&gt;Hi Ann&lt;/p&gt;" in html
    assert '<a href="http://localhost/r/abc">Go</a>' not in html
    assert "<details>" in html and "<iframe" not in html


def test_retry_puts_a_failed_email_back_in_the_queue(signed_in, user):
    email = make_email(
        user,
        state=EmailState.FAILED,
        attempts=8,
        last_error="550 mailbox unavailable",
        next_attempt_at=utcnow() + timedelta(days=3),
    )
    email_id = email.id
    url = f"/outbox/{email_id}"
    settled()
    assert "Retry now" in signed_in.get(url).get_data(as_text=True)

    response = post_form(signed_in, f"{url}/retry", {}, page=url)

    assert response.status_code == 303
    retried = fresh(email_id)
    assert retried.state == EmailState.QUEUED
    assert retried.next_attempt_at <= utcnow()
    assert retried.last_error == "550 mailbox unavailable"
    settled()
    assert "Queued again" in signed_in.get(url).get_data(as_text=True)


def test_only_failed_emails_can_be_retried(signed_in, user):
    sent_at = utcnow()
    email = make_email(user, state=EmailState.SENT, attempts=1, sent_at=sent_at)
    email_id = email.id
    url = f"/outbox/{email_id}"
    settled()
    assert "Retry now" not in signed_in.get(url).get_data(as_text=True)

    response = post_form(signed_in, f"{url}/retry", {}, page=url, follow_redirects=True)

    assert "Only a failed email can be retried" in response.get_data(as_text=True)
    assert fresh(email_id).state == EmailState.SENT


def test_another_professionals_email_is_404(signed_in, other_email):
    email_id = other_email.id
    settled()
    assert signed_in.get(f"/outbox/{email_id}").status_code == 404
    response = post_form(signed_in, f"/outbox/{email_id}/retry", {}, page="/outbox/")
    assert response.status_code == 404
    assert fresh(email_id).state == EmailState.FAILED


def test_outbox_needs_sign_in(client, ctx):
    response = client.get("/outbox/")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_an_update_held_for_more_news_can_be_released_early(signed_in, user):
    email = make_email(
        user,
        template="referrer_update",
        batch_key="referrer-update:1",
        unsubscribe_url="http://127.0.0.1:5000/u/token",
        next_attempt_at=utcnow() + timedelta(minutes=14),
    )
    email_id = email.id
    url = f"/outbox/{email_id}"
    settled()
    page = signed_in.get(url).get_data(as_text=True)
    assert "Held until" in page and "One-click unsubscribe link included" in page

    response = post_form(signed_in, f"{url}/send-now", {}, page=url)

    assert response.status_code == 303
    released = fresh(email_id)
    assert released.next_attempt_at <= utcnow() and released.batch_key is None
    settled()
    page = signed_in.get(url).get_data(as_text=True)
    assert "next delivery run" in page and "Held until" not in page


def test_releasing_an_email_the_sender_already_took_changes_nothing(signed_in, user):
    lease = utcnow() + timedelta(minutes=5)
    email = make_email(
        user, state=EmailState.SENDING, batch_key="referrer-update:1", claimed_until=lease
    )
    email_id = email.id
    url = f"/outbox/{email_id}"
    settled()
    post_form(signed_in, f"{url}/send-now", {}, page=url)
    unchanged = fresh(email_id)
    assert unchanged.state == EmailState.SENDING and unchanged.batch_key == "referrer-update:1"
