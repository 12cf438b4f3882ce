"""The advocacy moments a contact has had."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Contact, ContactMoment


def contact_moments(contact: Contact) -> list[ContactMoment]:
    """The moments recorded for this contact."""
    return db.session.scalars(
        sa.select(ContactMoment)
        .where(ContactMoment.contact_id == contact.id, ContactMoment.user_id == contact.user_id)
        .order_by(ContactMoment.id)
    ).all()
