"""A contact's known connections, for the contact page and the referrer's form."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Connection, Contact


def contact_connections(contact: Contact) -> list[Connection]:
    """Every connection recorded for this contact, oldest first."""
    return db.session.scalars(
        sa.select(Connection)
        .where(Connection.contact_id == contact.id, Connection.user_id == contact.user_id)
        .order_by(Connection.created_at, Connection.id)
    ).all()
