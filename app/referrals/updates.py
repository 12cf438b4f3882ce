"""Telling the referrer: status updates, heads-ups and thank-yous, gathered per referrer.

The professional decides what each event says to the referrer (the private
note never goes). ``tell_referrer`` adds the words to the referrer's pending
update email: every message to one referrer within the update window
(REFERRER_UPDATE_WINDOW_SECONDS after the first) goes out as one email. The
email is written in the caller's transaction, like every email.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager

from ..capture.wording import (
    HEADS_UP_DRAFT,
    THANKS_DRAFT,
    UPDATE_DRAFTS,
    person_first_name,
    tells_by_default,
)
from ..extensions import db
from ..helpers import external_url
from ..mail import render_email
from ..models import (
    Contact,
    EmailState,
    EventKind,
    OutboundEmail,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    UpdateState,
    utcnow,
)
from ..referrers.emails import queue_to_referrer, why_cannot_email
from ..tokens import client_link_token

UPDATE_TEMPLATE = "referrer_update"


class CannotTell(Exception):
    """The referrer cannot be emailed (no address, or unsubscribed); the message says why."""


def draft_for(referral: Referral, kind: EventKind, status: ReferralStatus | None = None) -> str:
    """The pre-written words for the referrer, ready to edit."""
    name = person_first_name(referral.name)
    if kind == EventKind.THANKS:
        return THANKS_DRAFT.format(name=name)
    if kind == EventKind.HEADS_UP:
        return HEADS_UP_DRAFT.format(name=name)
    return UPDATE_DRAFTS.get(status or referral.status, "").format(name=name)


def record_status_change(
    referral: Referral,
    status: ReferralStatus,
    *,
    author: str,
    note: str = "",
    value_won: Decimal | None = None,
    now: datetime | None = None,
) -> ReferralEvent:
    """Move the referral on and decide whether an update awaits the professional.

    PENDING when the referrer's preference asks to hear about this step and they
    can be emailed; SKIPPED otherwise (the professional can still write one).
    """
    event = referral.change_status(status, author=author, note=note, value_won=value_won, now=now)
    contact = referral.contact
    wanted = tells_by_default(contact.update_preference, status)
    event.update_state = (
        UpdateState.PENDING if wanted and why_cannot_email(contact) is None else UpdateState.SKIPPED
    )
    return event


def skip_update(event: ReferralEvent) -> None:
    """The professional chose not to tell the referrer about this event."""
    if event.update_state == UpdateState.PENDING:
        event.update_state = UpdateState.SKIPPED


def tell_referrer(event: ReferralEvent, message: str, now: datetime | None = None) -> OutboundEmail:
    """Put ``message`` about ``event`` in the referrer's pending update email.

    Raises CannotTell when the referrer has no address or unsubscribed. The
    caller commits; until then the email and the event change together.
    """
    referral = event.referral
    contact = referral.contact
    reason = why_cannot_email(contact)
    if reason:
        raise CannotTell(reason)
    now = now or utcnow()
    event.referrer_message = message.strip()
    event.update_state = UpdateState.QUEUED
    event.referrer_told_at = now
    if event.kind == EventKind.THANKS:
        referral.thanked_at = now
    email = _open_update_email(contact)
    if email is None:
        window = timedelta(seconds=current_app.config["REFERRER_UPDATE_WINDOW_SECONDS"])
        email = queue_to_referrer(
            UPDATE_TEMPLATE,
            contact,
            subject="An update",  # set by _render_update below
            batch_key=_batch_key(contact),
            send_after=now + window,
            items=[],
            link="",
        )
        db.session.flush()
    event.email_id = email.id
    db.session.flush()
    _render_update(email, contact)
    return email


def add_thanks(referral: Referral, message: str, *, author: str) -> ReferralEvent:
    """A personal thank-you for this referral, sent with the referrer's next update email."""
    event = ReferralEvent(
        referral=referral,
        user_id=referral.user_id,
        kind=EventKind.THANKS,
        author=author,
        update_state=UpdateState.PENDING,
    )
    db.session.add(event)
    tell_referrer(event, message)
    return event


def add_heads_up(referral: Referral, message: str, *, author: str, note: str = "") -> ReferralEvent:
    """Something went wrong with the person referred: the referrer hears it from us first."""
    now = utcnow()
    event = ReferralEvent(
        referral=referral,
        user_id=referral.user_id,
        kind=EventKind.HEADS_UP,
        note=note.strip(),
        author=author,
        update_state=UpdateState.PENDING,
        created_at=now,
    )
    referral.last_step_at = now
    db.session.add(event)
    tell_referrer(event, message, now=now)
    return event


def _batch_key(contact: Contact) -> str:
    return f"referrer-update:{contact.id}"


def _open_update_email(contact: Contact) -> OutboundEmail | None:
    """The referrer's update email that is still waiting to go, locked for us, if any.

    The row lock (PostgreSQL) or the write lock (SQLite's BEGIN IMMEDIATE) keeps
    the sender from claiming it while we add to it. One the sender has claimed
    is no longer QUEUED, so a late message starts a new email instead.
    """
    return db.session.scalar(
        sa.select(OutboundEmail)
        .where(
            OutboundEmail.batch_key == _batch_key(contact),
            OutboundEmail.state == EmailState.QUEUED,
            OutboundEmail.attempts == 0,
        )
        .order_by(OutboundEmail.id.desc())
        .limit(1)
        .with_for_update()
    )


def _render_update(email: OutboundEmail, contact: Contact) -> None:
    """(Re)write the update email from every message it now carries."""
    events = db.session.scalars(
        sa.select(ReferralEvent)
        .join(ReferralEvent.referral)
        .options(contains_eager(ReferralEvent.referral))
        .where(ReferralEvent.email_id == email.id)
        .order_by(ReferralEvent.created_at, ReferralEvent.id)
    ).all()
    people = list(dict.fromkeys(event.referral.name for event in events))
    if len(people) == 1:
        subject = f"An update about {people[0]}"
    else:
        subject = f"An update about {len(people)} people you introduced"
    if any(event.kind == EventKind.HEADS_UP for event in events):
        subject = f"{subject}: please read this first"
    email.subject = subject
    email.body_text, email.body_html = render_email(
        UPDATE_TEMPLATE,
        subject,
        contact=contact,
        sender=contact.user,
        items=events,
        link=referrer_view_url(contact),
        unsubscribe_url=email.unsubscribe_url,
    )


def referrer_view_url(contact: Contact) -> str:
    """The link where the referrer sees how their people are doing, or "" when none works.

    The contact's latest answered touchpoint with a live link, signed afresh so
    the link in each email works for the full link lifetime from that email.
    """
    touchpoint = db.session.scalar(
        sa.select(Touchpoint)
        .where(
            Touchpoint.contact_id == contact.id,
            Touchpoint.answered_at.is_not(None),
            Touchpoint.link_active.is_(True),
            Touchpoint.state != TouchpointState.CANCELLED,
        )
        .order_by(Touchpoint.answered_at.desc(), Touchpoint.id.desc())
        .limit(1)
    )
    if touchpoint is None:
        return ""
    return external_url("capture.form", token=client_link_token(touchpoint))
