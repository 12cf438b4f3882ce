"""``flask touchpoints send-due``: due touchpoints that send themselves are queued once.

In-process tests for what is and is not queued, then real processes running
send-due at the same moment (``-s`` shows the figures).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Contact, OutboundEmail, Touchpoint, TouchpointState, User, utcnow
from app.tokens import LinkState, read_client_link
from app.touchpoints.commands import send_due
from app.touchpoints.emails import queue_due_touchpoints
from tests.conftest import count_rows
from tests.factories import days_ago, make_contact, make_touchpoint, make_user
from tests.test_outbox_concurrency import database_name, flask_env, run_at_once

TODAY = date.today()


def settled():
    db.session.rollback()


def touchpoint_emails() -> list[OutboundEmail]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(OutboundEmail)
            .where(OutboundEmail.template == "touchpoint")
            .order_by(OutboundEmail.id)
        )
    )


@pytest.fixture
def contact(user):
    return make_contact(user, name="Ann Lee", email="ann@example.net")


def due_auto(contact, **fields) -> Touchpoint:
    fields.setdefault("due_on", TODAY)
    return make_touchpoint(contact, auto_send=True, **fields)


def test_a_due_touchpoint_that_sends_itself_is_queued_and_marked_sent(ctx, contact):
    touchpoint = due_auto(contact, due_on=days_ago(1))

    report = send_due(TODAY)

    assert (report.queued, report.planned) == (1, 0)
    (email,) = touchpoint_emails()
    assert (email.to_email, email.contact_id) == ("ann@example.net", contact.id)
    assert email.subject == "A quick question from Dana Reyes"
    # A working link to this touchpoint (signed when queued, so not compared as text).
    sent = read_client_link(re.search(r"/r/([\w.-]+)", email.body_text).group(1))
    assert sent.state == LinkState.VALID and sent.touchpoint.id == touchpoint.id
    assert touchpoint.message.splitlines()[0] in email.body_text
    assert email.unsubscribe_url  # like every email to a referrer
    db.session.expire_all()
    touchpoint = db.session.get(Touchpoint, touchpoint.id)
    assert touchpoint.state == TouchpointState.SENT
    assert touchpoint.sent_at is not None


@pytest.mark.parametrize(
    "situation",
    [
        "not marked to send itself",
        "not yet due",
        "no email address",
        "unsubscribed",
        "link revoked",
        "cancelled",
        "already sent",
        "empty message",
    ],
)
def test_what_send_due_leaves_alone(ctx, contact, situation):
    fields = {}
    if situation == "not yet due":
        fields["due_on"] = TODAY + timedelta(days=1)
    elif situation == "link revoked":
        fields["link_active"] = False
    elif situation == "cancelled":
        fields["state"] = TouchpointState.CANCELLED
    elif situation == "empty message":
        fields["message"] = "   \n"
    elif situation == "no email address":
        contact.email = ""
    elif situation == "unsubscribed":
        contact.unsubscribed_at = utcnow()
    touchpoint = due_auto(contact, **fields)
    if situation == "not marked to send itself":
        touchpoint.auto_send = False
    elif situation == "already sent":
        touchpoint.mark_sent()
    db.session.commit()
    state = touchpoint.state

    assert queue_due_touchpoints(TODAY) == 0

    assert touchpoint_emails() == []
    assert db.session.get(Touchpoint, touchpoint.id).state == state


def test_send_due_is_idempotent_and_works_in_batches(runner, ctx, user):
    for _ in range(5):
        due_auto(make_contact(user))
    settled()

    assert queue_due_touchpoints(TODAY, size=2) == 5
    assert queue_due_touchpoints(TODAY, size=2) == 0
    assert len(touchpoint_emails()) == 5

    result = runner.invoke(args=["touchpoints", "send-due"])
    assert result.exit_code == 0
    # The five were sent today: their dates have passed, so the rhythm plans their next ones.
    assert result.output.strip() == "Queued 0 touchpoint emails; planned 5 next touchpoints."


def test_a_batch_costs_the_same_queries_whatever_its_size(app, ctx, user):
    """Contacts and professionals come with their touchpoints: no query per touchpoint.

    (Inserts are left out: on SQLite the ORM writes one INSERT per email.)
    """
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    def run(n: int) -> int:
        for _ in range(n):
            due_auto(make_contact(user))
        settled()
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert queue_due_touchpoints(TODAY) == n
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    assert run(2) == run(12)


def test_a_touchpoint_planned_by_the_rhythm_sends_itself_when_due(ctx, contact):
    """A rhythm that had run out plans the next one for today; it goes in the same run."""
    previous = due_auto(contact, due_on=days_ago(200))
    previous.mark_sent()
    db.session.commit()

    report = send_due(TODAY)

    assert (report.planned, report.queued) == (1, 1)
    (email,) = touchpoint_emails()
    latest = db.session.scalars(sa.select(Touchpoint).where(Touchpoint.id != previous.id)).one()
    assert latest.auto_send and latest.state == TouchpointState.SENT
    assert latest.due_on == TODAY


# Real processes at once ------------------------------------------------------------

CONTACTS = 300
HANDED_BACK = 100
PROCESSES = 2


def test_send_due_in_two_processes_at_once_queues_each_touchpoint_once(ctx, database_url):
    """300 due automatic touchpoints, plus 300 contacts whose rhythm must move on, and
    100 more whose rhythm is handed back to their latest touchpoint."""
    user = make_user()
    pro = db.session.get(User, user.id)
    contacts = [
        Contact(user_id=pro.id, name=f"Client {i}", email=f"client{i}@example.net")
        for i in range(2 * CONTACTS + HANDED_BACK)
    ]
    db.session.add_all(contacts)
    db.session.flush()
    db.session.add_all(
        Touchpoint(
            user_id=pro.id,
            contact_id=contact.id,
            due_on=days_ago(i % 5),
            message=f"Hi {contact.name}, who have you talked to about me?",
            auto_send=True,
        )
        for i, contact in enumerate(contacts[:CONTACTS])
    )
    db.session.add_all(
        Touchpoint(
            user_id=pro.id,
            contact_id=contact.id,
            due_on=days_ago(10),
            message="Sent last quarter",
            state=TouchpointState.SENT,
            sent_at=utcnow(),
        )
        for contact in contacts[CONTACTS : 2 * CONTACTS]
    )
    # The latest one sent, settled long ago while an earlier one waited, planned; that
    # earlier one has just been opened (so is no longer planned).
    for contact in contacts[2 * CONTACTS :]:
        db.session.add_all(
            [
                Touchpoint(
                    user_id=pro.id,
                    contact_id=contact.id,
                    due_on=days_ago(3),
                    message="Sent last month",
                    state=TouchpointState.SENT,
                    sent_at=utcnow(),
                    rhythm_pending=False,
                ),
                Touchpoint(
                    user_id=pro.id,
                    contact_id=contact.id,
                    due_on=days_ago(20),
                    message="Planned by hand",
                    state=TouchpointState.OPENED,
                    first_opened_at=utcnow(),
                ),
            ]
        )
    db.session.commit()
    auto_contacts = {contact.id for contact in contacts[:CONTACTS]}

    outputs, seconds = run_at_once(
        ["touchpoints", "send-due"],
        PROCESSES,
        flask_env(database_url, SEND_DUE_BATCH_SIZE=20),
    )

    emails = touchpoint_emails()
    per_contact = Counter(email.contact_id for email in emails)
    duplicates = len(emails) - len(per_contact)
    queued = [int(out.split()[1]) for out in outputs]
    planned = [int(out.split("planned ")[1].split()[0]) for out in outputs]
    print(
        f"\n[send-due on {database_name(database_url)}] {CONTACTS} due touchpoints, "
        f"{PROCESSES} processes, {seconds:.2f} s, {len(emails)} emails queued, "
        f"{duplicates} duplicates; queued per process: {queued}, planned per process: {planned}"
    )
    assert duplicates == 0
    assert len(emails) == CONTACTS
    assert set(per_contact) == auto_contacts
    assert sum(queued) == CONTACTS
    # At least those; a touchpoint one run sent may already be followed by the other.
    assert sum(planned) >= CONTACTS + HANDED_BACK
    sent = count_rows(
        Touchpoint,
        Touchpoint.contact_id.in_(auto_contacts),
        Touchpoint.state == TouchpointState.SENT,
        Touchpoint.auto_send.is_(True),
    )
    assert sent == CONTACTS

    # Again: nothing more to queue, and every contact ends with exactly one planned next one.
    outputs, _ = run_at_once(["touchpoints", "send-due"], 1, flask_env(database_url))
    assert outputs[0].startswith("Queued 0 touchpoint emails; ")
    assert len(touchpoint_emails()) == CONTACTS
    planned_per_contact = Counter(
        db.session.scalars(
            sa.select(Touchpoint.contact_id).where(Touchpoint.state == TouchpointState.PLANNED)
        )
    )
    assert len(planned_per_contact) == 2 * CONTACTS + HANDED_BACK
    assert max(planned_per_contact.values()) == 1
    handed_back = db.session.scalars(
        sa.select(Touchpoint.due_on).where(
            Touchpoint.contact_id.in_([contact.id for contact in contacts[2 * CONTACTS :]]),
            Touchpoint.state == TouchpointState.PLANNED,
        )
    ).all()
    assert set(handed_back) == {days_ago(3) + timedelta(days=91)}
