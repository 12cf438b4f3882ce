"""The emails a referrer's actions cause. Each queues into the caller's transaction.

The people the referrer names never get email from Referloop: only the referrer
(a thank-you) and the professional (the news) do.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Detail:
    """One line about a referral in the professional's notice. ``style``: "long" (what
    they need, what a vendor does: paragraphs, or indented lines), "quote" (the way
    to introduce them, in the referrer's words), or "" (as it is)."""

    label: str
    value: str
    style: str = ""


def new_referrals_notice(touchpoint: Touchpoint, referrals: list[Referral]) -> dict:
    """The professional's news of who was introduced, what they need and how to reach
    them, as its outbox row (``mail.compose_email``).

    Both bodies list the same details for each referral, the empty ones left out
    (``people`` and ``vendors``: (referral, details) pairs), worked out once here.
    """
    knows = f"How {touchpoint.contact.first_name} knows them"
    people = [(r, _person_details(r, knows)) for r in referrals if not r.is_vendor]
    vendors = [(r, _vendor_details(r)) for r in referrals if r.is_vendor]
    named = []
    if people:
        named.append("1 person" if len(people) == 1 else f"{len(people)} people")
    if vendors:
        named.append("1 vendor" if len(vendors) == 1 else f"{len(vendors)} vendors")
    return _to_professional(
        "new_referrals",
        touchpoint,
        subject=f"{touchpoint.contact.name} introduced you to {' and '.join(named)}",
        people=people,
        vendors=vendors,
        link=external_url("contacts.detail", contact_id=touchpoint.contact_id),
    )


def _person_details(referral: Referral, knows: str) -> list[Detail]:
    details = [
        Detail("Email", referral.email),
        Detail("Phone", referral.phone),
        Detail(knows, referral.how_known),
        Detail("What they need", referral.need, "long"),
    ]
    introduction = Detail("Introduction", referral.intro_method.label, "quote")
    return [detail for detail in details if detail.value] + [introduction]


def _vendor_details(referral: Referral) -> list[Detail]:
    details = [
        Detail("Company", referral.how_known),
        Detail("What they do", referral.need, "long"),
        Detail("Email", referral.email),
        Detail("Phone", referral.phone),
    ]
    return [detail for detail in details if detail.value]


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
