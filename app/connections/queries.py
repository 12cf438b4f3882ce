"""A contact's known connections, for the contact page and the referrer's form."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from ..extensions import db
from ..helpers import MAX_ID
from ..models import Connection, ConnectionStatus, Contact, Referral

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


def connections_to_ask(
    contact: Contact, *, touchpoint_id: int | None = None, answered: Iterable[int] = ()
) -> list[Connection]:
    """The connections the referrer's form names: those not asked yet (or to ask again).

    A submitted form also reads back, among ``answered`` (the ids it carries an
    answer for), those this touchpoint's form has already answered: a replayed
    submission is then recognised for what it is, not mistaken for an empty one.
    """
    waiting = Connection.status == ConnectionStatus.NOT_ASKED
    answered = [ident for ident in answered if 1 <= ident <= MAX_ID]
    if touchpoint_id is not None and answered:
        waiting = sa.or_(
            waiting,
            sa.and_(Connection.touchpoint_id == touchpoint_id, Connection.id.in_(answered)),
        )
    return db.session.scalars(
        sa.select(Connection)
        .where(
            Connection.contact_id == contact.id,
            Connection.user_id == contact.user_id,
            waiting,
        )
        .order_by(Connection.created_at, Connection.id)
        .limit(NAMED_ASKS_LIMIT)
    ).all()


def owned_connection(contact: Contact, connection_id: int) -> Connection | None:
    """One of this contact's connections, or None (another professional's is None too)."""
    return db.session.scalar(
        sa.select(Connection).where(
            Connection.id == connection_id,
            Connection.contact_id == contact.id,
            Connection.user_id == contact.user_id,
        )
    )
