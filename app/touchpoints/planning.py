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

send-due reads what is due, not every contact: ``Touchpoint.rhythm_pending``
marks the touchpoints the rhythm may still have to act after. Every touchpoint
starts marked, and one planned again or moved to another date is marked again
(``Touchpoint._rhythm_looks_again``); nothing clears the mark of a planned one.
``plan_due_rhythm`` reads marked touchpoints that are no longer planned and whose
date has passed, along the partial index ``ix_touchpoint_rhythm_pending``, which
holds nothing else: a touchpoint enters it by leaving "planned" by any path,
even a plain UPDATE (a first opening, a claim by send-due). Each one read is
settled under its contact's lock: its next touchpoint is planned if the rule
holds, and its mark is cleared in every case. The cases where the rule does not
hold are covered by whatever will change that:

- a later touchpoint carries the rhythm: the mark goes to the contact's latest
  (settled in the same run), so a planned touchpoint dated before a sent one
  hands the rhythm back once it is done;
- the contact has a planned touchpoint: that one is marked, and is read when it
  is no longer planned;
- no rhythm: switching one on (the contact's own, or the professional's default
  from none) marks the latest touchpoints again (``_rhythm_switched_on``).

So a run costs what there is to do, not what the database holds. An answer that
plans the next touchpoint clears the mark itself. Migration 0005 clears the
marks of past touchpoints that have a later one; the first send-due after it
settles the latest ones.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, aliased, contains_eager

from ..extensions import db
from ..models import Contact, Touchpoint, TouchpointState, User, touchpoint_message


def batch_size() -> int:
    """Rows per transaction for send-due (``SEND_DUE_BATCH_SIZE``, default 200)."""
    return max(1, int(current_app.config["SEND_DUE_BATCH_SIZE"]))


def _rhythm_days():
    """The contact's rhythm in SQL: its own days, else the professional's; 0 = none."""
    return sa.func.coalesce(Contact.rhythm_days, User.rhythm_days, 0)


def _has_planned(touchpoint):
    """The contact of ``touchpoint`` has a planned touchpoint (a plain equality join:
    PostgreSQL can hash it when the whole table is looked at).

    The state is compared as ``state || ''``, which no index holds, so the
    contact's own index (a row or two) is the way in: with the state as it is,
    PostgreSQL's statistics could make "planned" look rarer than one contact's
    rows, and every answer then walked ``ix_touchpoint_send_due`` through the
    planned touchpoints of every professional (the benchmark's submissions
    slowed round after round: 5.3 million index entries read for 3,252 of them).
    """
    planned = aliased(Touchpoint)
    return (
        sa.select(planned.id)
        .where(
            planned.contact_id == touchpoint.contact_id,
            sa.type_coerce(planned.state, sa.String).concat(sa.literal_column("''"))
            == sa.literal_column(f"'{TouchpointState.PLANNED.value}'"),
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


@functools.cache
def _plan_next_query(columns: tuple[str, ...]) -> sa.Insert:
    """Insert a row of ``columns`` (those ``_row_after`` fills in), unless the rhythm
    has moved on from the touchpoint ``:touchpoint_id``: the check and the insert
    are one statement.

    Built once: its aliased subqueries cost more to build than to run, and every
    answer runs it. The columns not given get their defaults, as in a plain INSERT.
    """
    table = Touchpoint.__table__
    values = [sa.bindparam(name, type_=table.c[name].type) for name in columns]
    unless_moved_on = sa.select(*values).where(
        Touchpoint.id == sa.bindparam("touchpoint_id"), ~_rhythm_has_moved_on(Touchpoint)
    )
    # Its rowcount says whether it planned: kept before the cursor closes, which
    # SQLAlchemy does for UPDATE and DELETE only (psycopg then answers -1).
    insert = table.insert().from_select(columns, unless_moved_on)
    return insert.execution_options(preserve_rowcount=True)


def plan_after_answer(
    touchpoint: Touchpoint, today: date | None = None, connection: sa.Connection | None = None
) -> dict | None:
    """Plan the contact's next touchpoint, ``rhythm`` days after today's answer.

    Nothing when the contact has no rhythm, already has a planned touchpoint, or
    has a later touchpoint than this one. Inserts the row (``_row_after``) on
    ``connection`` (by default the session's) and returns it; the caller commits.
    ``touchpoint`` is a model or a read-only record (records.py) with its contact
    and professional. When it plans, the caller clears the touchpoint's mark (the
    rhythm has acted after it): the referrer's form does so in the UPDATE that
    answers.
    """
    contact = touchpoint.contact
    rhythm = contact.rhythm
    if not rhythm:
        return None
    # Whoever plans this contact's next touchpoint holds its row until they commit
    # (on SQLite, the write lock the caller holds already does).
    connection = connection or db.session.connection()
    if connection.dialect.name != "sqlite":
        connection.execute(
            sa.select(Contact.id).where(Contact.id == contact.id).with_for_update(key_share=True)
        )
    row = _row_after(touchpoint, (today or date.today()) + timedelta(days=rhythm))
    # Plain statements, not the unit of work: the referrer's form waits for them.
    planned = connection.execute(
        _plan_next_query(tuple(row)), {**row, "touchpoint_id": touchpoint.id}
    )
    if planned.rowcount != 1:
        return None  # the rhythm had moved on
    return row


def _waits_for_rhythm():
    """Marked, and no longer planned: the WHERE of ``ix_touchpoint_rhythm_pending``.

    The state is a literal, not a parameter, as in the index's WHERE: a database
    can only use a partial index when it can see the query stays inside it.
    """
    return sa.and_(
        Touchpoint.rhythm_pending,
        Touchpoint.state != sa.literal_column(f"'{TouchpointState.PLANNED.value}'"),
    )


def _next_candidates(today: date, size: int, after: tuple | None) -> list[sa.Row]:
    """The next ``size`` touchpoints the rhythm has to look at: (due date, id) rows.

    Marked, no longer planned, date passed: read along ``ix_touchpoint_rhythm_pending``
    in its order, from where the last batch ended, as ``queue_due_touchpoints``
    walks its index. That is the work there is, whatever the number of contacts
    and of past touchpoints. The LIMIT keeps PostgreSQL on the index even though
    it overestimates the rows (statistics of single columns cannot tell that a
    mark and "no longer planned" rarely go together).
    """
    query = (
        sa.select(Touchpoint.due_on, Touchpoint.id)
        .where(_waits_for_rhythm(), Touchpoint.due_on <= today)
        .order_by(Touchpoint.due_on, Touchpoint.id)
        .limit(size)
    )
    if after is not None:
        query = query.where(
            Touchpoint.due_on >= after[0],
            sa.tuple_(Touchpoint.due_on, Touchpoint.id) > sa.tuple_(*after),
        )
    return db.session.execute(query).all()


def plan_due_rhythm(today: date | None = None, size: int | None = None) -> int:
    """Plan the next touchpoint for every contact whose latest one's date has passed.

    Set-based: batches of ``size`` candidates read from the index, never a loop
    over contacts; each batch is settled in a transaction of its own
    (``_settle``). Safe to run again and from several processes at once. Returns
    how many touchpoints were planned.
    """
    today = today or date.today()
    size = size or batch_size()
    planned, after, handed_to = 0, None, []
    while True:
        rows = _next_candidates(today, size, after)
        if not rows:
            break
        after = tuple(rows[-1])
        count, handed = _settle([row.id for row in rows], today)
        planned += count
        handed_to.extend(handed)
        if len(rows) < size:
            break
    # The touchpoints the mark was handed to, which the walk may have passed already.
    while handed_to:
        ids, handed_to = handed_to[:size], handed_to[size:]
        count, handed = _settle(ids, today)
        planned += count
        handed_to.extend(handed)
    db.session.commit()
    return planned


def _settle(ids: list[int], today: date) -> tuple[int, list[int]]:
    """Plan after these candidates where the rule holds, and clear their marks.

    Returns how many were planned, and the touchpoints the mark was handed to
    that are candidates themselves now.
    """
    # Locked together, on PostgreSQL, with FOR NO KEY UPDATE SKIP LOCKED (a row
    # another transaction holds leaves the contact to a later batch or run): the
    # contact, as every rhythm planner does; the touchpoint, so a change made
    # meanwhile on a page (a date moved, a cancel undone) waits and marks it again
    # after this commit, never before; and the contact's latest touchpoint, which
    # may get the mark, so nothing here ever waits for a row (no deadlock with a
    # referrer's answer, which holds its touchpoint, then asks for the contact).
    latest = aliased(Touchpoint)
    locked = dict(
        db.session.execute(
            sa.select(Touchpoint.id, latest.id)
            .join(Contact, Contact.id == Touchpoint.contact_id)
            .join(latest, sa.and_(latest.contact_id == Contact.id, ~_has_later(latest)))
            .where(Touchpoint.id.in_(ids))
            .order_by(Contact.id)
            .with_for_update(of=(Contact, Touchpoint, latest), key_share=True, skip_locked=True)
        ).all()
    )
    if not locked:
        db.session.commit()
        return 0, []
    # Asked again in a new statement, now that these rows are ours: what a run
    # that committed meanwhile did (planned, or cleared the mark) is seen.
    rows = db.session.execute(
        sa.select(
            Touchpoint,
            _has_later(Touchpoint).label("later"),
            _has_planned(Touchpoint).label("planned"),
            _rhythm_days().label("rhythm"),
        )
        .join(Touchpoint.contact)
        .join(Contact.user)
        .options(contains_eager(Touchpoint.contact).contains_eager(Contact.user))
        .where(Touchpoint.id.in_(locked), _waits_for_rhythm(), Touchpoint.due_on <= today)
    ).all()
    if not rows:
        db.session.commit()
        return 0, []
    follow, settled, latest_ids = [], [], set()
    for touchpoint, later, planned, rhythm in rows:
        # Every candidate looked at is settled, whatever the outcome: next planned,
        # a later touchpoint carries the rhythm (the mark goes there), a planned one
        # will hand it back when it is done, or there is no rhythm (until one is
        # switched on).
        settled.append(touchpoint.id)
        if later:
            latest_ids.add(locked[touchpoint.id])
        elif rhythm > 0 and not planned:
            follow.append(touchpoint)
    if follow:
        # One multi-row INSERT, not the unit of work: the same row an answer plans.
        db.session.execute(sa.insert(Touchpoint), [_next_row(t, today) for t in follow])
    db.session.execute(
        sa.update(Touchpoint)
        .where(Touchpoint.id.in_(settled), _waits_for_rhythm())
        .values(rhythm_pending=False),
        execution_options={"synchronize_session": False},
    )
    handed_to = []
    if latest_ids - set(settled):
        handed_to = [
            touchpoint_id
            for touchpoint_id, state, due_on in db.session.execute(
                sa.update(Touchpoint)
                .where(
                    Touchpoint.id.in_(latest_ids - set(settled)),
                    ~Touchpoint.rhythm_pending,
                )
                .values(rhythm_pending=True)
                .returning(Touchpoint.id, Touchpoint.state, Touchpoint.due_on),
                execution_options={"synchronize_session": False},
            )
            if state != TouchpointState.PLANNED and due_on <= today
        ]
    db.session.commit()
    return len(follow), handed_to


def _next_row(previous: Touchpoint, today: date) -> dict:
    """The row of the touchpoint after ``previous``, whose date has passed."""
    due = max(previous.due_on + timedelta(days=previous.contact.rhythm), today)
    return _row_after(previous, due)


def _row_after(previous, due: date) -> dict:
    """The row of a planned touchpoint after ``previous`` (a model or a read-only
    record), due on ``due``, with the default message in the professional's words."""
    contact = previous.contact
    user = contact.user
    return {
        "user_id": contact.user_id,
        "contact_id": previous.contact_id,
        "due_on": due,
        "value_offered": "",
        "message": touchpoint_message(contact, user, "", user.ask_count),
        "ask_count": user.ask_count,
        "state": TouchpointState.PLANNED,
        "auto_send": previous.auto_send,
        "from_delivery": False,
    }


@sa.event.listens_for(Session, "before_flush")
def _rhythm_switched_on(session, _flush_context, _instances) -> None:
    """Mark again the latest touchpoint of every contact whose rhythm may have started.

    send-due clears the mark of a contact without a rhythm, so that it is not read
    on every run; when the contact's own rhythm changes (to a number of days or
    to the default), or the professional's default goes from none to some, the
    latest touchpoints concerned are looked at again.
    """
    contacts, users = set(), set()
    for instance in session.dirty:
        if not isinstance(instance, Contact | User):
            continue
        history = sa.inspect(instance).attrs.rhythm_days.history
        if not history.added:
            continue
        if isinstance(instance, Contact):
            if history.added[0] != 0:
                contacts.add(instance.id)
        elif history.added[0] and not (history.deleted and history.deleted[0]):
            users.add(instance.id)
    if not (contacts or users):
        return  # every flush comes here: most change no rhythm
    latest_unmarked = sa.and_(~Touchpoint.rhythm_pending, ~_has_later(Touchpoint))
    for column, ids in ((Touchpoint.contact_id, contacts), (Touchpoint.user_id, users)):
        if ids:
            session.execute(
                sa.update(Touchpoint)
                .where(column.in_(ids), latest_unmarked)
                .values(rhythm_pending=True),
                execution_options={"synchronize_session": False},
            )
