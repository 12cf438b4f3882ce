"""Sending a touchpoint: the one way its email is composed and queued.

Used by the touchpoint page's "Email it" button; a scheduled job that emails due
touchpoints should call the same functions, so both send the same words.
"""

from __future__ import annotations

from flask import current_app

from ..capture.wording import say_this
from ..models import OutboundEmail, Touchpoint, TouchpointState
from ..referrers.emails import queue_to_referrer
from ..tokens import client_link_url


def link_days() -> int:
    """How many days a client link works, for the copy that says so."""
    return max(1, current_app.config["CLIENT_LINK_MAX_AGE"] // 86400)


def why_not_emailable(touchpoint: Touchpoint) -> str | None:
    """Why Referloop cannot email this touchpoint now (in plain words), or None if it can."""
    contact = touchpoint.contact
    if touchpoint.state == TouchpointState.CANCELLED:
        return "This touchpoint is cancelled."
    if not contact.email.strip():
        return (
            f"There is no email address for {contact.name}. Add one on their contact page, "
            "or copy the message and send it yourself."
        )
    if contact.unsubscribed_at is not None:
        return (
            f"{contact.name} asked not to get emails from Referloop "
            f"(on {contact.unsubscribed_at.day} {contact.unsubscribed_at:%b %Y}). "
            "You can still copy the message and send it yourself."
        )
    if not touchpoint.link_active:
        return "The link is revoked. Issue a new link before sending it."
    if not touchpoint.message.strip():
        return "The message is empty. Write it, or use the suggested wording, then save."
    return None


def whole_message(touchpoint: Touchpoint, link: str) -> str:
    """The message with its link under it, ready to paste into any mailbox or chat."""
    return f"{touchpoint.message.strip()}\n\n{link}"


def subject_for(touchpoint: Touchpoint) -> str:
    return f"A quick question from {touchpoint.user.name}"


def queue_touchpoint_email(touchpoint: Touchpoint) -> OutboundEmail:
    """Queue the touchpoint's email to its contact and mark the touchpoint sent.

    Both happen in the caller's transaction: the caller commits. Check
    ``why_not_emailable`` first.
    """
    email = queue_to_referrer(
        "touchpoint",
        touchpoint.contact,
        subject=subject_for(touchpoint),
        message=touchpoint.message,
        link=client_link_url(touchpoint),
        link_days=link_days(),
        say_this=say_this(touchpoint.user),
    )
    touchpoint.mark_sent()
    return email
