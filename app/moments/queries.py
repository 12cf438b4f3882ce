"""The advocacy moments a contact has had, and what each one means."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import AdvocacyMoment, Contact, ContactMoment

# What each moment is, in a sentence the professional can recognise.
MOMENT_WHY = {
    AdvocacyMoment.EXPECTATION: "At the start you said plainly that your work grows through "
    "introductions, and you agreed what counts as one.",
    AdvocacyMoment.INSIGHT: "You gave them a win they didn't see coming: a saving, an idea, "
    "a risk caught early.",
    AdvocacyMoment.VULNERABILITY: "Something went wrong, you told them first, and you put it "
    "right in the open.",
    AdvocacyMoment.FUTURE_PACING: "You helped them picture the conversation they'll have with "
    "a colleague who needs you.",
    AdvocacyMoment.PERMISSION: "You told them outright that introductions are welcome, and "
    "gave them the words to make one.",
}

# Why the missing ones matter before the ask, for the touchpoint pages.
READINESS_WHY = (
    "People introduce you more readily once they've seen what you do, seen how you handle a "
    "problem, and been told, in words they can repeat, that you'd welcome it. A touchpoint "
    "is a good time to create one of these moments before you ask."
)


def contact_moments(contact: Contact) -> list[ContactMoment]:
    """The moments recorded for this contact."""
    return db.session.scalars(
        sa.select(ContactMoment)
        .where(ContactMoment.contact_id == contact.id, ContactMoment.user_id == contact.user_id)
        .order_by(ContactMoment.id)
    ).all()


def missing_moments(contact: Contact) -> list[AdvocacyMoment]:
    """The moments not recorded for this contact yet, in the method's order (one query)."""
    had = set(
        db.session.scalars(
            sa.select(ContactMoment.moment).where(
                ContactMoment.contact_id == contact.id,
                ContactMoment.user_id == contact.user_id,
            )
        )
    )
    return [moment for moment in AdvocacyMoment if moment not in had]
