"""Every email to a referrer goes through ``compose_to_referrer`` (``queue_to_referrer``).

It adds what all of them need: the professional as the person replies reach,
and the one-click unsubscribe address (headers and footer). Referred people
are never emailed; only referrers and the professional are.
"""

from __future__ import annotations

from datetime import datetime

from ..mail import add_to_outbox, compose_email
from ..models import Contact, OutboundEmail
from ..tokens import unsubscribe_url


def why_cannot_email(contact: Contact) -> str | None:
    """Why Referloop may not email this contact (plain words), or None if it may."""
    if contact.unsubscribed_at is not None:
        when = contact.unsubscribed_at
        return (
            f"{contact.name} unsubscribed from Referloop emails on {when.day} {when:%b %Y}. "
            "You can still tell them yourself."
        )
    if not contact.email.strip():
        return f"There is no email address for {contact.name}."
    return None


def queue_to_referrer(template: str, contact: Contact, **fields) -> OutboundEmail:
    """``compose_to_referrer``, added to the outbox in the session; the caller commits."""
    return add_to_outbox(compose_to_referrer(template, contact, **fields))


def compose_to_referrer(
    template: str,
    contact: Contact,
    *,
    subject: str,
    batch_key: str | None = None,
    send_after: datetime | None = None,
    **context,
) -> dict:
    """An email from the professional to one of their contacts, as its outbox row
    (``mail.compose_email``).

    Check ``why_cannot_email`` first. Templates get ``contact``, ``sender`` and
    ``unsubscribe_url`` besides ``context``.
    """
    user = contact.user
    return compose_email(
        template,
        to_email=contact.email,
        to_name=contact.name,
        reply_to=user.email,
        subject=subject,
        user_id=user.id,
        contact_id=contact.id,
        unsubscribe_url=unsubscribe_url(contact),
        batch_key=batch_key,
        send_after=send_after,
        contact=contact,
        sender=user,
        **context,
    )
