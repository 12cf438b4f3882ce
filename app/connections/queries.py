"""A contact's known connections, for the contact page and the referrer's form."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa

from ..database import reading_connection
from ..extensions import db
from ..helpers import MAX_ID
from ..models import Connection, ConnectionStatus, Contact, Referral, Touchpoint

# The most named questions one form asks; the rest wait for the next touchpoint.
NAMED_ASKS_LIMIT = 10


def contact_connections(contact: Contact) -> list[Connection]:
    """Every connection recorded for this contact, oldest first, in one query.

    Each connection also gets ``referral_id``: the referral its latest "yes"
    became (None when there is none, or it was deleted), for the link to it.
    """
    latest_referral = (
        sa.select(sa.func.max(Referral.id))
        .where(Referral.connection_id == Connection.id, Referral.user_id == contact.user_id)
        .correlate(Connection)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Connection, latest_referral)
        .where(Connection.contact_id == contact.id, Connection.user_id == contact.user_id)
        .order_by(Connection.created_at, Connection.id)
    ).all()
    connections = []
    for connection, referral_id in rows:
        connection.referral_id = referral_id  # not a column: read by the contact page only
        connections.append(connection)
    return connections


# What the referrer's form shows of a connection (and a yes copies into its referral).
ASKED_COLUMNS = ("id", "name", "organisation", "how_known")


class AskedConnection(NamedTuple):
    """A connection the form asks about, read as part of the link's own query."""

    id: int
    name: str
    organisation: str
    how_known: str


def waiting_column(dialect: str) -> sa.ScalarSelect:
    """The connections the form of touchpoint ``:id`` asks about, as one JSON array
    of ``[rank, *ASKED_COLUMNS]`` (or NULL on PostgreSQL when there are none): a
    column of the link's query (records.py), so the form page reads its link and
    the connections it names in one statement. ``asked_connections`` reads it.

    Which connections and in what order are those of ``connections_to_ask``; the
    rank carries the order, since neither database promises that an aggregate
    keeps the order of the rows it reads (SQLite's has no ORDER BY before 3.44).
    """
    columns = Connection.__table__.c
    asking = Touchpoint.__table__.alias("asking")
    of_link = asking.c.id == sa.bindparam("id")
    order = (columns.created_at, columns.id)
    waiting = (
        sa.select(
            sa.func.row_number().over(order_by=order).label("rank"),
            *(columns[name] for name in ASKED_COLUMNS),
        )
        .where(
            columns.contact_id == sa.select(asking.c.contact_id).where(of_link).scalar_subquery(),
            columns.user_id == sa.select(asking.c.user_id).where(of_link).scalar_subquery(),
            columns.status == ConnectionStatus.NOT_ASKED,
        )
        .order_by(*order)
        .limit(NAMED_ASKS_LIMIT)
        .subquery("waiting")
    )
    fields = [waiting.c.rank, *(waiting.c[name] for name in ASKED_COLUMNS)]
    if dialect == "postgresql":
        rows = sa.func.json_agg(sa.func.json_build_array(*fields), type_=sa.JSON)
    else:
        rows = sa.func.json_group_array(sa.func.json_array(*fields), type_=sa.JSON)
    return sa.select(rows).select_from(waiting).scalar_subquery()


def asked_connections(value: list | None) -> list[AskedConnection]:
    """The connections ``waiting_column`` found, in the form's order."""
    return [AskedConnection(*fields[1:]) for fields in sorted(value or (), key=lambda f: f[0])]


@functools.cache
def _to_ask_query(reasked: bool) -> sa.Select:
    """Built once: constructing the statement cost more than running it."""
    columns = Connection.__table__.c
    waiting = columns.status == ConnectionStatus.NOT_ASKED
    if reasked:
        waiting = sa.or_(
            waiting,
            sa.and_(
                columns.touchpoint_id == sa.bindparam("touchpoint_id"),
                columns.id.in_(sa.bindparam("answered", expanding=True)),
            ),
        )
    return (
        sa.select(*(columns[name] for name in ASKED_COLUMNS))
        .where(
            columns.contact_id == sa.bindparam("contact_id"),
            columns.user_id == sa.bindparam("user_id"),
            waiting,
        )
        .order_by(columns.created_at, columns.id)
        .limit(NAMED_ASKS_LIMIT)
    )


def connections_to_ask(
    contact: Contact, *, touchpoint_id: int | None = None, answered: Iterable[int] = ()
) -> list[sa.Row] | list[AskedConnection]:
    """The connections the referrer's form names: those not asked yet (or to ask again),
    as plain rows of ``ASKED_COLUMNS``.

    A submitted form also reads back, among ``answered`` (the ids it carries an
    answer for), those this touchpoint's form has already answered: a replayed
    submission is then recognised for what it is, not mistaken for an empty one.
    A contact's record (records.py) for the form page already carries the waiting
    ones, read with its link: no query then.
    """
    answered = [ident for ident in answered if 1 <= ident <= MAX_ID]
    reasked = touchpoint_id is not None and bool(answered)
    waiting = getattr(contact, "waiting_connections", None)
    if waiting is not None and not reasked:
        return waiting
    params = {"contact_id": contact.id, "user_id": contact.user_id}
    if reasked:
        params |= {"touchpoint_id": touchpoint_id, "answered": answered}
    return reading_connection().execute(_to_ask_query(reasked), params).all()


def owned_connection(contact: Contact, connection_id: int) -> Connection | None:
    """One of this contact's connections, or None (another professional's is None too)."""
    return db.session.scalar(
        sa.select(Connection).where(
            Connection.id == connection_id,
            Connection.contact_id == contact.id,
            Connection.user_id == contact.user_id,
        )
    )
