"""The rhythm: after one touchpoint, plan the next from the contact's rhythm.

The rhythm follows each contact's latest touchpoint (by due date, then id).
When it is answered, the next one is due ``rhythm`` days after the answer
(``plan_after_answer``, called by the referrer's form). When its due date has
passed and it is no longer planned (sent, opened, answered, or cancelled: a
cancelled one is skipped, the rhythm carries on from its date), the next one is
due ``rhythm`` days after that date, or today if that is already past
(``plan_due_rhythm``, run by ``touchpoints send-due``).

Both are idempotent: a contact that already has a planned touchpoint, or whose
touchpoint is not its latest any more, gets nothing. So the rhythm never makes
a second planned touchpoint for a contact, however often or from however many
machines they run. On PostgreSQL the contact's row is locked (``FOR NO KEY
UPDATE``, which does not block inserts that refer to it) while its next
touchpoint is decided; on SQLite the write lock of ``BEGIN IMMEDIATE`` does
the same.
"""

from __future__ import annotations

from array import array
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, contains_eager

from ..extensions import db
from ..models import Contact, Touchpoint, TouchpointState, User


def batch_size() -> int:
    """Rows per transaction for send-due (``SEND_DUE_BATCH_SIZE``, default 200)."""
    return max(1, int(current_app.config["SEND_DUE_BATCH_SIZE"]))


def _rhythm_days():
    """The contact's rhythm in SQL: its own days, else the professional's; 0 = none."""
    return sa.func.coalesce(Contact.rhythm_days, User.rhythm_days, 0)


def _has_planned(touchpoint):
    """The contact of ``touchpoint`` has a planned touchpoint (a plain equality join:
    PostgreSQL can hash it when the whole table is looked at)."""
    planned = aliased(Touchpoint)
    return (
        sa.select(planned.id)
        .where(
            planned.contact_id == touchpoint.contact_id,
            planned.state == TouchpointState.PLANNED,
        )
        .exists()
    )


def _has_later(touchpoint):
    """The contact has a touchpoint after ``touchpoint`` (by due date, then id)."""
    later = aliased(Touchpoint)
    return (
        sa.select(later.id)
        .where(
            later.contact_id == touchpoint.contact_id,
            sa.or_(
                later.due_on > touchpoint.due_on,
                sa.and_(later.due_on == touchpoint.due_on, later.id > touchpoint.id),
            ),
        )
        .exists()
    )


def _rhythm_has_moved_on(touchpoint):
    """True when the contact has a planned touchpoint, or one after ``touchpoint``."""
    return sa.or_(_has_planned(touchpoint), _has_later(touchpoint))


def next_touchpoint(previous: Touchpoint, due_on: date) -> Touchpoint:
    """A new planned touchpoint after ``previous``; the caller adds and commits it."""
    contact, user = previous.contact, previous.contact.user
    touchpoint = Touchpoint(
        user_id=contact.user_id,
        user=user,  # default_message() reads both before the row is flushed
        contact=contact,
        due_on=due_on,
        ask_count=user.ask_count,
        value_offered="",
        state=TouchpointState.PLANNED,
        auto_send=previous.auto_send,
        from_delivery=False,
    )
    touchpoint.message = touchpoint.default_message()
    return touchpoint


def plan_after_answer(touchpoint: Touchpoint, today: date | None = None) -> Touchpoint | None:
    """Plan the contact's next touchpoint, ``rhythm`` days after today's answer.

    Nothing when the contact has no rhythm, already has a planned touchpoint, or
    has a later touchpoint than this one. Adds to the session; the caller commits.
    """
    contact = touchpoint.contact
    rhythm = contact.rhythm
    if not rhythm:
        return None
    # Whoever plans this contact's next touchpoint holds its row until they commit.
    db.session.execute(
        sa.select(Contact.id).where(Contact.id == contact.id).with_for_update(key_share=True)
    )
    moved_on = db.session.scalar(
        sa.select(_rhythm_has_moved_on(Touchpoint)).where(Touchpoint.id == touchpoint.id)
    )
    if moved_on:
        return None
    planned = next_touchpoint(touchpoint, (today or date.today()) + timedelta(days=rhythm))
    db.session.add(planned)
    return planned


def _rhythm_is_due(today: date):
    """A contact's latest touchpoint, no longer planned, whose date has passed, for a
    contact with a rhythm and no planned touchpoint: its next one should be planned."""
    return sa.and_(
        Touchpoint.state != TouchpointState.PLANNED,
        Touchpoint.due_on <= today,
        _rhythm_days() > 0,
        ~_has_planned(Touchpoint),
        ~_has_later(Touchpoint),
    )


def _candidate_ids(today: date) -> array:
    """Every touchpoint after which the rhythm is due, in one set-based read.

    One pass over the touchpoints whatever their number: the database chooses how
    (on PostgreSQL a hash anti-join against the planned ones). Only the ids are
    kept, compactly: 8 bytes each.
    """
    ids = array(
        "q",
        db.session.scalars(
            sa.select(Touchpoint.id)
            .join(Contact, Contact.id == Touchpoint.contact_id)
            .join(User, User.id == Contact.user_id)
            .where(_rhythm_is_due(today))
            .order_by(Touchpoint.id)
        ),
    )
    db.session.commit()
    return ids


def plan_due_rhythm(today: date | None = None, size: int | None = None) -> int:
    """Plan the next touchpoint for every contact whose latest one's date has passed.

    Set-based: one read finds the candidates, never a loop over contacts. Then,
    per batch of ``size``, their contacts are locked (``FOR NO KEY UPDATE SKIP
    LOCKED`` on PostgreSQL: a contact another run is planning is left to it), the
    rule is checked again now that they are ours, and the batch is committed with
    its new touchpoints. Safe to run again and from several processes at once.
    Returns how many touchpoints were planned.
    """
    today = today or date.today()
    size = size or batch_size()
    candidates = _candidate_ids(today)
    planned = 0
    for start in range(0, len(candidates), size):
        ids = candidates[start : start + size].tolist()
        contact_ids = db.session.scalars(
            sa.select(Contact.id)
            .join(Touchpoint, Touchpoint.contact_id == Contact.id)
            .where(Touchpoint.id.in_(ids))
            .order_by(Contact.id)
            .with_for_update(of=Contact, key_share=True, skip_locked=True)
        ).all()
        if not contact_ids:
            db.session.commit()
            continue
        # Asked again in a new statement, now that these contacts are ours: what a
        # run that committed meanwhile planned is seen, and counts.
        previous = db.session.scalars(
            sa.select(Touchpoint)
            .join(Touchpoint.contact)
            .join(Contact.user)
            .options(contains_eager(Touchpoint.contact).contains_eager(Contact.user))
            .where(
                Touchpoint.id.in_(ids),
                Touchpoint.contact_id.in_(contact_ids),
                _rhythm_is_due(today),
            )
        ).all()
        if previous:
            # One multi-row INSERT, not the unit of work: the same row next_touchpoint makes.
            db.session.execute(sa.insert(Touchpoint), [_next_row(t, today) for t in previous])
        db.session.commit()
        planned += len(previous)
    return planned


def _next_row(previous: Touchpoint, today: date) -> dict:
    """The row of the touchpoint after ``previous``, whose date has passed."""
    due = max(previous.due_on + timedelta(days=previous.contact.rhythm), today)
    draft = next_touchpoint(previous, due)  # transient, for its wording: never added
    return {
        "user_id": previous.contact.user_id,
        "contact_id": previous.contact_id,
        "due_on": due,
        "value_offered": draft.value_offered,
        "message": draft.message,
        "ask_count": draft.ask_count,
        "state": draft.state,
        "auto_send": draft.auto_send,
        "from_delivery": draft.from_delivery,
    }
