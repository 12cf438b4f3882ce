"""Sending a touchpoint: the one way its email is composed and queued.

Used by the touchpoint page's "Email it" button and by ``touchpoints send-due``
(``queue_due_touchpoints``), so both send the same words.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from ..capture.wording import say_this
from ..extensions import db
from ..models import Contact, OutboundEmail, Touchpoint, TouchpointState, utcnow
from ..referrers.emails import queue_to_referrer
from ..tokens import client_link_url
from .planning import batch_size


def link_days() -> int:
    """How many days a client link works, for the copy that says so."""
    return max(1, current_app.config["CLIENT_LINK_MAX_AGE"] // 86400)


def why_not_emailable(touchpoint: Touchpoint) -> str | None:
    """Why Referloop cannot email this touchpoint now (in plain words), or None if it can."""
    contact = touchpoint.contact
    if touchpoint.state == TouchpointState.CANCELLED:
        return "This touchpoint is cancelled."
    if not contact.email.strip():
        return (
            f"There is no email address for {contact.name}. Add one on their contact page, "
            "or copy the message and send it yourself."
        )
    if contact.unsubscribed_at is not None:
        return (
            f"{contact.name} asked not to get emails from Referloop "
            f"(on {contact.unsubscribed_at.day} {contact.unsubscribed_at:%b %Y}). "
            "You can still copy the message and send it yourself."
        )
    if not touchpoint.link_active:
        return "The link is revoked. Issue a new link before sending it."
    if not touchpoint.message.strip():
        return "The message is empty. Write it, or use the suggested wording, then save."
    return None


def whole_message(touchpoint: Touchpoint, link: str) -> str:
    """The message with its link under it, ready to paste into any mailbox or chat."""
    return f"{touchpoint.message.strip()}\n\n{link}"


def subject_for(touchpoint: Touchpoint) -> str:
    return f"A quick question from {touchpoint.user.name}"


def queue_touchpoint_email(touchpoint: Touchpoint) -> OutboundEmail:
    """Queue the touchpoint's email to its contact and mark the touchpoint sent.

    Both happen in the caller's transaction: the caller commits. Check
    ``why_not_emailable`` first.
    """
    email = queue_to_referrer(
        "touchpoint",
        touchpoint.contact,
        subject=subject_for(touchpoint),
        message=touchpoint.message,
        link=client_link_url(touchpoint),
        link_days=link_days(),
        say_this=say_this(touchpoint.user),
    )
    touchpoint.mark_sent()
    return email


def _sendable_automatically(today: date):
    """Planned, marked to send itself, due, with a live link, to a contact we may email."""
    contact = aliased(Contact)  # not correlated away when the query joins Contact too
    return sa.and_(
        Touchpoint.state == TouchpointState.PLANNED,
        Touchpoint.auto_send.is_(True),
        Touchpoint.due_on <= today,
        Touchpoint.link_active.is_(True),
        Touchpoint.message != "",
        sa.exists().where(
            contact.id == Touchpoint.contact_id,
            contact.email != "",
            contact.unsubscribed_at.is_(None),
        ),
    )


def queue_due_touchpoints(today: date | None = None, size: int | None = None) -> int:
    """Queue the email of every due touchpoint marked to send itself; how many were queued.

    In batches, each committed with its emails. A batch is claimed with ``SELECT
    ... FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL (FOR UPDATE's row lock,
    minus blocking a referral that points at the touchpoint); SQLite's ``BEGIN
    IMMEDIATE`` already lets one writer in at a time. Each touchpoint then moves
    from planned to sent by a conditional UPDATE (``WHERE state = 'planned'``)
    before its email is written: two runs at once, on any number of machines,
    never queue one touchpoint twice.
    """
    today = today or date.today()
    size = size or batch_size()
    queued, after = 0, None
    while True:
        # The batch, its contacts and their professionals in one query. Walked by
        # (due date, id) along ix_touchpoint_send_due (state, auto_send, due_on, id),
        # which holds the planned touchpoints that send themselves apart from those
        # waiting to be sent by hand, from where the last batch ended: a touchpoint
        # left behind (locked by another run, or not emailable) is never read twice
        # in one run.
        query = (
            sa.select(Touchpoint)
            .join(Touchpoint.contact)
            .join(Contact.user)
            .options(contains_eager(Touchpoint.contact).contains_eager(Contact.user))
            .where(_sendable_automatically(today))
            .order_by(Touchpoint.due_on, Touchpoint.id)
            .limit(size)
            .with_for_update(of=Touchpoint, key_share=True, skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if after is not None:
            query = query.where(
                Touchpoint.due_on >= after[0],
                sa.tuple_(Touchpoint.due_on, Touchpoint.id) > sa.tuple_(*after),
            )
        candidates = db.session.scalars(query).all()
        if not candidates:
            db.session.commit()
            return queued
        after = (candidates[-1].due_on, candidates[-1].id)
        # The checks the "Email it" button makes (a message of only spaces, say).
        ready = [touchpoint for touchpoint in candidates if why_not_emailable(touchpoint) is None]
        claimed, when = set(), utcnow()
        if ready:
            claimed = set(
                db.session.scalars(
                    sa.update(Touchpoint)
                    .where(
                        Touchpoint.id.in_([touchpoint.id for touchpoint in ready]),
                        _sendable_automatically(today),
                    )
                    .values(state=TouchpointState.SENT, sent_at=when)
                    .returning(Touchpoint.id),
                    execution_options={"synchronize_session": False},
                )
            )
        for touchpoint in ready:
            if touchpoint.id in claimed:
                # What the UPDATE wrote, without another query or a second UPDATE.
                set_committed_value(touchpoint, "state", TouchpointState.SENT)
                set_committed_value(touchpoint, "sent_at", when)
                queue_touchpoint_email(touchpoint)
        db.session.commit()
        queued += len(claimed)
        if len(candidates) < size:
            return queued
