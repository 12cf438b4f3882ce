"""The outbox on the wire: delivery over a real SMTP server, retries, claims, headers.

Every test talks to an aiosmtpd server on loopback (conftest's ``smtp_server``).
On PostgreSQL (REFERLOOP_TEST_DATABASE_URL) the same tests exercise
``FOR UPDATE SKIP LOCKED``; on SQLite they exercise ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from jinja2 import ChoiceLoader, DictLoader

from app.extensions import db
from app.mail import (
    InvalidAddress,
    build_message,
    compose_email,
    deliver_outbox,
    insert_rows,
    queue_email,
)
from app.models import EmailState, OutboundEmail, utcnow
from tests.conftest import count_rows, free_port

NOTE_TEMPLATES = {
    "email/note.txt": "Hello {{ name }},\n\n{{ body }}\n",
    "email/note.html": "<p>Hello {{ name }},</p>\n<p>{{ body }}</p>\n",
}


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config}


@pytest.fixture(autouse=True)
def note_template(app):
    """A small email template, so tests queue through the real ``queue_email``."""
    app.jinja_env.loader = ChoiceLoader([DictLoader(NOTE_TEMPLATES), app.jinja_env.loader])


def queue(n: int = 1, **fields) -> list[OutboundEmail]:
    """Queue ``n`` notes through ``queue_email`` and commit."""
    emails = []
    for i in range(n):
        values = {
            "to_email": f"ann{i}@example.com" if n > 1 else "ann@example.com",
            "to_name": "Ann Lee",
            "subject": "Two savings we found",
            "name": "Ann",
            "body": "We reviewed your quarter & found two savings.",
        }
        values.update(fields)
        emails.append(queue_email("note", **values))
    db.session.commit()
    return emails


def test_emails_written_at_once_are_the_rows_the_unit_of_work_writes(ctx, smtp_server):
    """Composed rows written with one INSERT (insert_rows) and emails queued through
    the unit of work give the same rows, defaults included, and both are delivered."""
    later = utcnow() + timedelta(hours=1)
    fields = {"to_name": "Ann Lee", "subject": "Two savings", "name": "Ann", "body": "Hi"}
    queue_email("note", to_email="ann@example.com", **fields)
    insert_rows(
        [
            compose_email("note", to_email="bo@example.com", **fields),
            compose_email("note", to_email="cy@example.com", send_after=later, **fields),
        ]
    )
    db.session.commit()

    rows = db.session.scalars(sa.select(OutboundEmail).order_by(OutboundEmail.to_email)).all()
    assert [row.to_email for row in rows] == ["ann@example.com", "bo@example.com", "cy@example.com"]
    assert rows[2].next_attempt_at == later
    ignore = {"id", "to_email", "message_id", "created_at", "next_attempt_at"}
    columns = [c.key for c in OutboundEmail.__table__.columns if c.key not in ignore]
    assert all(getattr(row, c) is not None for row in rows for c in ("created_at", "state"))
    for row in rows[1:]:
        assert {c: getattr(row, c) for c in columns} == {c: getattr(rows[0], c) for c in columns}
    assert len({row.message_id for row in rows}) == 3

    assert deliver_outbox().sent == 2  # the one held back waits
    assert sorted(smtp_server.handler.envelopes[i].rcpt_tos[0] for i in range(2)) == [
        "ann@example.com",
        "bo@example.com",
    ]


def record_connections(handler) -> list:
    """Note the client address of every DATA: one address per SMTP connection."""
    peers = []
    original = handler.handle_DATA

    async def handle_data(server, session, envelope):
        peers.append(session.peer)
        return await original(server, session, envelope)

    handler.handle_DATA = handle_data
    return peers


def refuse(handler, address: str, reply: str = "550 5.1.1 No such user here") -> None:
    """Make the server refuse one recipient at RCPT."""

    async def handle_rcpt(server, session, envelope, rcpt, options):
        if rcpt == address:
            return reply
        envelope.rcpt_tos.append(rcpt)
        return "250 OK"

    handler.handle_RCPT = handle_rcpt


def received_ids(handler) -> list[str]:
    return [message["Message-ID"] for message in handler.messages]


def test_a_queued_email_is_delivered_with_its_headers_and_both_parts(ctx, smtp_server):
    (email,) = queue()

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (message,) = smtp_server.handler.messages
    (envelope,) = smtp_server.handler.envelopes
    assert envelope.mail_from == "no-reply@referloop.test"
    assert envelope.rcpt_tos == ["ann@example.com"]
    assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.com"]
    assert message["To"].addresses[0].display_name == "Ann Lee"
    assert message["From"].addresses[0].addr_spec == "no-reply@referloop.test"
    assert message["Subject"] == "Two savings we found"
    assert message["Message-ID"] == email.message_id
    assert message["Date"].datetime is not None
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "We reviewed your quarter & found two savings." in text
    assert "found two savings" in html and "&amp;" in html

    db.session.refresh(email)
    assert email.state == EmailState.SENT
    assert email.attempts == 1
    assert email.sent_at is not None and email.claimed_until is None


def test_one_batch_goes_over_one_connection(app, ctx, smtp_server):
    app.config["OUTBOX_BATCH_SIZE"] = 2
    peers = record_connections(smtp_server.handler)
    queue(5)

    report = deliver_outbox()

    assert report.sent == 5
    assert len(set(peers)) == 3  # batches of 2, 2 and 1


def test_a_451_is_retried_by_the_next_run_with_the_same_message_id(ctx, smtp_server):
    smtp_server.handler.fail_next = 1
    (email,) = queue()

    first = deliver_outbox()

    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    db.session.refresh(email)
    assert email.state == EmailState.QUEUED
    assert email.attempts == 1
    assert email.last_error == "451 4.3.0 Try again later"
    assert smtp_server.handler.messages == []

    second = deliver_outbox()

    assert second.sent == 1
    assert received_ids(smtp_server.handler) == [email.message_id]
    db.session.refresh(email)
    assert email.state == EmailState.SENT
    assert email.attempts == 2
    assert email.last_error == "451 4.3.0 Try again later"  # the outbox shows the retry


def test_a_refused_connection_requeues_the_batch_with_backoff_that_grows_and_is_capped(app, ctx):
    port = free_port()  # nothing listens there
    app.config.update(MAIL_PORT=port, OUTBOX_RETRY_BASE_SECONDS=30, OUTBOX_RETRY_MAX_SECONDS=100)
    first, second = queue(2)
    now = utcnow()

    report = deliver_outbox(now=now)

    assert (report.sent, report.retrying, report.failed) == (0, 2, 0)
    for email in (first, second):
        db.session.refresh(email)
        assert email.state == EmailState.QUEUED
        assert email.attempts == 1
        assert email.last_error == f"Connection refused by 127.0.0.1:{port}"
        assert email.next_attempt_at == now + timedelta(seconds=30)

    delays = [30]
    for _ in range(3):
        now = first.next_attempt_at
        assert deliver_outbox(now=now - timedelta(seconds=1)).attempted == 0  # not yet due
        deliver_outbox(now=now)
        db.session.refresh(first)
        delays.append((first.next_attempt_at - now).total_seconds())
    assert delays == [30, 60, 100, 100]
    assert first.attempts == 4


def test_a_permanent_550_fails_the_email_and_it_is_not_retried(ctx, smtp_server):
    refuse(smtp_server.handler, "gone@example.com")
    gone, kept = queue(1, to_email="gone@example.com") + queue(1, to_email="kept@example.com")

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (1, 0, 1)
    db.session.refresh(gone)
    assert gone.state == EmailState.FAILED
    assert gone.attempts == 1
    assert gone.last_error == "550 5.1.1 No such user here"
    assert received_ids(smtp_server.handler) == [kept.message_id]  # same connection, after RSET

    later = deliver_outbox(now=utcnow() + timedelta(days=1))
    assert later.attempted == 0
    assert len(smtp_server.handler.messages) == 1


def test_a_refused_recipient_with_a_4xx_is_retried(ctx, smtp_server):
    refuse(smtp_server.handler, "busy@example.com", "450 4.2.1 Mailbox busy")
    (email,) = queue(to_email="busy@example.com")

    report = deliver_outbox()

    assert report.retrying == 1
    db.session.refresh(email)
    assert email.state == EmailState.QUEUED
    assert email.last_error == "450 4.2.1 Mailbox busy"


def test_after_the_last_attempt_the_email_fails_with_its_reason(app, ctx, smtp_server):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    smtp_server.handler.fail_next = 10
    (email,) = queue()

    states = []
    for _ in range(3):
        deliver_outbox()
        db.session.refresh(email)
        states.append((email.state, email.attempts))

    assert states == [
        (EmailState.QUEUED, 1),
        (EmailState.QUEUED, 2),
        (EmailState.FAILED, 3),
    ]
    assert email.last_error == "451 4.3.0 Try again later (gave up after 3 attempts)"
    assert deliver_outbox().attempted == 0


def test_without_a_mail_server_nothing_is_sent_and_everything_stays_queued(app, ctx, smtp_server):
    app.config["MAIL_SERVER"] = None
    emails = queue(2)

    report = deliver_outbox()

    assert not report.configured
    assert report.waiting == 2
    assert report.attempted == 0
    assert smtp_server.handler.messages == []
    for email in emails:
        db.session.refresh(email)
        assert (email.state, email.attempts) == (EmailState.QUEUED, 0)


def test_a_stale_claim_is_delivered_and_a_fresh_claim_is_left_alone(ctx, smtp_server):
    stale, fresh = queue(2)
    now = utcnow()
    stale.state = fresh.state = EmailState.SENDING
    stale.claimed_until = now - timedelta(minutes=1)  # its sender was killed mid-run
    fresh.claimed_until = now + timedelta(minutes=4)  # its sender is still at work
    db.session.commit()

    report = deliver_outbox()

    assert report.sent == 1
    assert received_ids(smtp_server.handler) == [stale.message_id]
    db.session.refresh(fresh)
    assert fresh.state == EmailState.SENDING
    assert fresh.attempts == 0


def test_a_limit_caps_the_number_of_emails_tried(ctx, smtp_server):
    queue(5)

    assert deliver_outbox(limit=2).sent == 2
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.QUEUED) == 3


def test_the_server_dropping_the_connection_mid_batch_is_survived_by_reconnecting(ctx, smtp_server):
    handler = smtp_server.handler
    peers = record_connections(handler)
    original = handler.handle_DATA
    calls = Counter()

    async def drop_on_second(server, session, envelope):
        calls["data"] += 1
        if calls["data"] == 2:
            server.transport.close()  # gone without a word, before accepting
            return "250 OK"
        return await original(server, session, envelope)

    handler.handle_DATA = drop_on_second
    emails = queue(4)

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (4, 0, 0)
    assert sorted(received_ids(handler)) == sorted(e.message_id for e in emails)
    assert len(set(peers)) == 2


def test_a_server_that_keeps_dropping_sends_the_rest_back_to_the_queue(ctx, smtp_server):
    handler = smtp_server.handler
    original = handler.handle_DATA
    calls = Counter()

    async def drop_after_first(server, session, envelope):
        calls["data"] += 1
        if calls["data"] > 1:
            server.transport.close()
            return "250 OK"
        return await original(server, session, envelope)

    handler.handle_DATA = drop_after_first
    first, *rest = queue(3)

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (1, 2, 0)
    for email in rest:
        db.session.refresh(email)
        assert email.state == EmailState.QUEUED
        assert email.attempts == 1
        assert email.last_error.endswith("closed the connection")


def test_a_421_fails_that_email_for_now_and_the_rest_go_over_a_new_connection(ctx, smtp_server):
    handler = smtp_server.handler
    peers = record_connections(handler)
    original = handler.handle_DATA
    calls = Counter()

    async def too_many_messages(server, session, envelope):
        calls["data"] += 1
        if calls["data"] == 2:
            return "421 4.7.0 Too many messages, closing"
        return await original(server, session, envelope)

    handler.handle_DATA = too_many_messages
    emails = queue(4)

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (3, 1, 0)
    db.session.refresh(emails[1])
    assert emails[1].last_error == "421 4.7.0 Too many messages, closing"
    assert len(set(peers)) == 2


def test_a_server_that_stops_answering_times_out_and_the_batch_waits_for_a_retry(
    app, ctx, smtp_server
):
    app.config["MAIL_TIMEOUT"] = 0.3

    async def hang(server, session, envelope):
        await asyncio.sleep(2)
        return "250 OK"

    smtp_server.handler.handle_DATA = hang
    emails = queue(2)

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (0, 2, 0)
    for email in emails:
        db.session.refresh(email)
        assert email.state == EmailState.QUEUED
        assert email.last_error == f"No answer from 127.0.0.1:{smtp_server.port} within 0.3 s"


def test_a_slow_server_never_keeps_a_claim_past_its_lease(app, ctx, smtp_server):
    app.config.update(OUTBOX_LEASE_SECONDS=1, MAIL_TIMEOUT=5)
    original = smtp_server.handler.handle_DATA

    async def slow(server, session, envelope):
        await asyncio.sleep(0.6)
        return await original(server, session, envelope)

    smtp_server.handler.handle_DATA = slow
    first, *rest = queue(3)

    report = deliver_outbox()

    assert report.sent == 1
    assert received_ids(smtp_server.handler) == [first.message_id]
    for email in rest:  # handed back untouched, before another sender could take them
        db.session.refresh(email)
        assert (email.state, email.attempts, email.claimed_until) == (EmailState.QUEUED, 0, None)


def test_starttls_the_server_does_not_offer_is_a_reason_to_retry_not_to_send_in_clear(
    app, ctx, smtp_server
):
    app.config["MAIL_USE_TLS"] = True
    (email,) = queue()

    report = deliver_outbox()

    assert report.retrying == 1
    assert smtp_server.handler.messages == []
    db.session.refresh(email)
    assert email.last_error == "STARTTLS extension not supported by server."


def test_two_senders_at_once_deliver_each_email_exactly_once(app, ctx, smtp_server):
    app.config["OUTBOX_BATCH_SIZE"] = 4  # many small claims, so the senders interleave
    emails = queue(50)
    expected = sorted(e.message_id for e in emails)
    db.session.commit()  # end this reading transaction: outside requests it holds the lock
    senders = 3
    start = threading.Barrier(senders)
    reports, errors = [], []

    def sender():
        try:
            with app.app_context():
                start.wait()
                reports.append(deliver_outbox())
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(report.sent for report in reports) == 50
    ids = received_ids(smtp_server.handler)
    assert sorted(ids) == expected  # every one, none twice
    assert max(Counter(ids).values()) == 1
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.SENT) == 50
    assert count_rows(OutboundEmail, OutboundEmail.attempts != 1) == 0


# Header safety -------------------------------------------------------------------

HOSTILE = [
    "Ann\r\nBcc: x@evil.test",
    "Ann\nBcc: x@evil.test",
    "Ann\rCc: x@evil.test",
    "=?UTF-8?Q?Ann=0ABcc:_x@evil.test?=",
    "=?utf-8?b?QW5uDQpCY2M6IHhAZXZpbC50ZXN0?=",
    "Ann Lee\n",
    "Ann\u2028Bcc: x@evil.test",
    "Ann\x85Bcc: x@evil.test",
    "Ann, x@evil.test",
    "Ann <x@evil.test>",
    '"Ann" <x@evil.test>, y@evil.test',
    "Ann\x00Bcc: x@evil.test",
]
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}


def hostile_row(value: str) -> OutboundEmail:
    """A row as hostile as it can be, written without ``queue_email``'s cleaning."""
    return OutboundEmail(
        template="note",
        to_email="ann@example.com",
        to_name=value,
        subject=value,
        body_text="Hello",
        body_html="<p>Hello</p>",
        message_id="<hostile.1@referloop.test>",
    )


def assert_one_clean_recipient(message) -> None:
    assert {name.lower() for name in message} == EXPECTED_HEADERS
    assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.com"]
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    for name in message:
        assert "evil.test" not in "".join(
            a.addr_spec for a in getattr(message[name], "addresses", ())
        )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_display_name_or_subject_never_adds_headers_or_recipients(ctx, value):
    built = build_message(hostile_row(value)).as_bytes()

    assert_one_clean_recipient(message_from_bytes(built, policy=policy.default))


@pytest.mark.parametrize("value", HOSTILE)
def test_queue_email_cleans_names_and_subjects_too(ctx, value):
    (email,) = queue(to_name=value, subject=value)

    assert "\n" not in email.to_name and "=?" not in email.to_name
    built = build_message(email).as_bytes()
    assert_one_clean_recipient(message_from_bytes(built, policy=policy.default))


@pytest.mark.parametrize(
    "field, value",
    [
        ("to_email", "ann@example.com\r\nBcc: x@evil.test"),
        ("to_email", "ann@example.com, x@evil.test"),
        ("to_email", "ann\u2028@example.com"),
        ("to_email", "not an address"),
        ("to_email", ""),
    ],
)
def test_an_address_that_could_carry_a_header_is_refused(ctx, field, value):
    email = hostile_row("Ann")
    setattr(email, field, value)

    with pytest.raises(InvalidAddress):
        build_message(email)


@pytest.mark.parametrize(
    "reply_to",
    [
        "pro@example.com\nBcc: x@evil.test",
        "pro@example.com, x@evil.test",
        "josé@example.com",
        "not an address",
    ],
)
def test_an_unusable_reply_to_is_left_out_and_the_email_still_builds(ctx, reply_to):
    email = hostile_row("Ann")
    email.reply_to = reply_to

    built = build_message(email).as_bytes()

    message = message_from_bytes(built, policy=policy.default)
    assert "Reply-To" not in message
    assert_one_clean_recipient(message)


def test_an_unusable_reply_to_does_not_stop_delivery(ctx, smtp_server):
    (accented,) = queue(reply_to="josé@example.com")
    (usable,) = queue(to_email="bob@example.com", reply_to="pro@example.com")

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    by_id = {message["Message-ID"]: message for message in smtp_server.handler.messages}
    assert "Reply-To" not in by_id[accented.message_id]
    assert str(by_id[usable.message_id]["Reply-To"]) == "pro@example.com"


def test_through_the_server_the_only_envelope_recipient_is_the_intended_one(ctx, smtp_server):
    queue(to_name="Ann\r\nBcc: x@evil.test", subject="Hi\nBcc: y@evil.test")
    raw = hostile_row("=?UTF-8?Q?Ann=0ABcc:_x@evil.test?=")
    raw.message_id = "<hostile.2@referloop.test>"
    db.session.add(raw)
    db.session.commit()

    report = deliver_outbox()

    assert report.sent == 2
    for envelope, message in zip(
        smtp_server.handler.envelopes, smtp_server.handler.messages, strict=True
    ):
        assert envelope.rcpt_tos == ["ann@example.com"]
        assert_one_clean_recipient(message)


def test_an_unusable_address_fails_its_email_without_holding_up_the_others(ctx, smtp_server):
    (bad,) = queue(to_email="ann@example.com\r\nBcc: x@evil.test")
    (good,) = queue(to_email="bob@example.com")

    report = deliver_outbox()

    assert (report.sent, report.retrying, report.failed) == (1, 0, 1)
    db.session.refresh(bad)
    assert bad.state == EmailState.FAILED
    assert bad.last_error.startswith("Invalid recipient address")
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [["bob@example.com"]]
    assert received_ids(smtp_server.handler) == [good.message_id]


def test_an_international_domain_goes_out_as_ascii(ctx, smtp_server):
    queue(to_email="ann@exämple.test")

    assert deliver_outbox().sent == 1
    (envelope,) = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["ann@xn--exmple-cua.test"]


@pytest.mark.parametrize("html", ["<p>Zoë &amp; Ann</p>\n" * 40, ""])
def test_the_message_on_the_wire_is_crlf_mime_that_reads_back_as_written(ctx, html):
    from app.mail import message_bytes

    text = "Zoë Martin, 東京 and Sam O'Neil\nline two\n\n" + "long words " * 60
    email = OutboundEmail(
        template="note",
        to_email="ann@example.com",
        to_name="Ann Brontë",
        reply_to="pro@example.com",
        subject="Merci, Zoë: your introductions",
        body_text=text,
        body_html=html,
        message_id="<wire.1@referloop.test>",
        unsubscribe_url="http://127.0.0.1:5000/u/" + "x" * 120,
    )

    data, recipient = message_bytes(email)

    assert recipient == "ann@example.com"
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends in CRLF
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    message = message_from_bytes(data, policy=policy.default)
    assert message["Subject"] == "Merci, Zoë: your introductions"
    assert message["To"].addresses[0].display_name == "Ann Brontë"
    assert message["List-Unsubscribe"] == f"<{email.unsubscribe_url}>"
    assert message["Message-ID"] == "<wire.1@referloop.test>"
    parts = list(message.walk()) if html else [message]
    bodies = [part.get_content() for part in parts if not part.is_multipart()]
    assert bodies == ([text, html] if html else [text])
    assert message.get_content_type() == ("multipart/alternative" if html else "text/plain")
