"""Test data builders. Each adds and commits, and returns the row."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from app.extensions import db
from app.models import Contact, ContactKind, Referral, Touchpoint, User, utcnow

_seq = itertools.count(1)


def make_user(
    email: str = "pro@example.com", password: str = "correct horse battery", **fields
) -> User:
    fields.setdefault("display_name", "Dana Reyes")
    fields.setdefault("business_name", "Reyes Advisory")
    fields.setdefault("value_proposition", "helps dental practices cut their tax bill")
    user = User(email=email, **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_contact(user: User, **fields) -> Contact:
    n = next(_seq)
    fields.setdefault("name", f"Client Number{n}")
    fields.setdefault("email", f"client{n}@example.net")
    fields.setdefault("kind", ContactKind.CLIENT)
    contact = Contact(user_id=user.id, **fields)
    db.session.add(contact)
    db.session.commit()
    return contact


def make_touchpoint(contact: Contact, **fields) -> Touchpoint:
    fields.setdefault("due_on", date.today())
    fields.setdefault("value_offered", "We reviewed your quarter and found two savings.")
    fields.setdefault("ask_count", 2)
    touchpoint = Touchpoint(user_id=contact.user_id, contact=contact, **fields)
    touchpoint.user = db.session.get(User, contact.user_id)
    if not touchpoint.message:
        touchpoint.message = touchpoint.default_message()
    db.session.add(touchpoint)
    db.session.commit()
    return touchpoint


def make_referral(contact: Contact, touchpoint: Touchpoint | None = None, **fields) -> Referral:
    n = next(_seq)
    fields.setdefault("name", f"Referred Person{n}")
    fields.setdefault("email", f"person{n}@example.org")
    fields.setdefault("need", "Wants a second opinion on their tax planning.")
    fields.setdefault("consent_at", utcnow())
    fields.setdefault("consent_notice_version", "2026-11")
    referral = Referral(
        user_id=contact.user_id,
        contact_id=contact.id,
        touchpoint_id=touchpoint.id if touchpoint else None,
        **fields,
    )
    db.session.add(referral)
    db.session.commit()
    return referral


def days_ago(n: int) -> date:
    return date.today() - timedelta(days=n)
