"""The emails a referrer's actions cause. Each queues into the caller's transaction.

The people the referrer names never get email from Referloop: only the referrer
(a thank-you) and the professional (the news) do.
"""

from __future__ import annotations

from ..helpers import external_url
from ..mail import add_to_outbox, compose_email
from ..models import OutboundEmail, Referral, Touchpoint
from ..referrers.emails import compose_to_referrer, why_cannot_email
from .wording import (
    NEXT_STEP_FIRST_PERSON,
    UPDATES_PROMISE_FIRST_PERSON,
    first_name,
    say_this,
)


def referrer_thanks(touchpoint: Touchpoint, referrals: list[Referral], link: str) -> dict | None:
    """The thank-you to the referrer, to send at once, as its outbox row
    (``mail.compose_email``); None when there is no address or they opted out."""
    contact, user = touchpoint.contact, touchpoint.user
    if why_cannot_email(contact):
        return None
    return compose_to_referrer(
        "referrer_thanks",
        contact,
        subject=f"Thank you, {contact.first_name}",
        people=[
            (referral, NEXT_STEP_FIRST_PERSON[referral.intro_method]) for referral in referrals
        ],
        updates=UPDATES_PROMISE_FIRST_PERSON[contact.update_preference],
        say_this=say_this(user),
        link=link,
    )


def new_referrals_notice(touchpoint: Touchpoint, referrals: list[Referral]) -> dict:
    """The professional's news of who was introduced, what they need and how to reach
    them, as its outbox row (``mail.compose_email``)."""
    vendors = sum(1 for referral in referrals if referral.is_vendor)
    count = len(referrals) - vendors
    named = []
    if count:
        named.append("1 person" if count == 1 else f"{count} people")
    if vendors:
        named.append("1 vendor" if vendors == 1 else f"{vendors} vendors")
    return _to_professional(
        "new_referrals",
        touchpoint,
        subject=f"{touchpoint.contact.name} introduced you to {' and '.join(named)}",
        referrals=referrals,
        link=external_url("contacts.detail", contact_id=touchpoint.contact_id),
    )


def queue_fresh_link_request(touchpoint: Touchpoint) -> OutboundEmail:
    """Tell the professional that a referrer found their link expired and wants a new one."""
    return add_to_outbox(
        _to_professional(
            "fresh_link_request",
            touchpoint,
            subject=f"{touchpoint.contact.name} asked for a new link",
            link=external_url("touchpoints.detail", touchpoint_id=touchpoint.id),
        )
    )


def _to_professional(template: str, touchpoint: Touchpoint, *, subject: str, **context) -> dict:
    """A notice to the professional about one of their contacts, as its outbox row;
    replies go to the contact.

    Templates get ``touchpoint``, ``contact`` and ``professional`` besides ``context``.
    """
    contact, user = touchpoint.contact, touchpoint.user
    return compose_email(
        template,
        to_email=user.email,
        to_name=user.name,
        reply_to=contact.email if contact.email.strip() else "",
        subject=subject,
        user_id=user.id,
        contact_id=contact.id,
        contact=contact,
        professional=first_name(user),
        touchpoint=touchpoint,
        **context,
    )
