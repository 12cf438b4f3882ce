"""The one email path: compose from templates, queue in the outbox, deliver over SMTP.

``queue_email`` adds an OutboundEmail row to the current session and never
commits: the email is written in the same transaction as the change that caused
it, or not at all. ``deliver_outbox`` (the ``outbox deliver`` command) sends
what is due, outside any request.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from flask import current_app, render_template

from .extensions import db
from .models import OutboundEmail

# C0 and C1 control characters, line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_safe(value: str, limit: int = 200) -> str:
    """Text fit for a header: one line, no control characters, no encoded words.

    Python's email package has let CR/LF in display names, and RFC 2047 encoded
    words that decode to line breaks, add headers (CVE-2024-6923 and relatives).
    We neither trust nor need either.
    """
    value = _CONTROL.sub(" ", value or "")
    value = value.replace("=?", "= ?").replace("?=", "? =")
    return " ".join(value.split())[:limit]


def queue_email(
    template: str,
    *,
    to_email: str,
    to_name: str = "",
    subject: str,
    user_id: int | None = None,
    contact_id: int | None = None,
    reply_to: str = "",
    **context,
) -> OutboundEmail:
    """Render ``email/<template>.txt`` and ``.html`` and add the email to the outbox.

    The caller commits. Templates are autoescaped (.html) or plain text (.txt);
    whatever a client typed stays text in both.
    """
    context.setdefault("subject", subject)
    body_text = render_template(f"email/{template}.txt", **context)
    body_html = render_template(f"email/{template}.html", **context)
    sender_domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    email = OutboundEmail(
        template=template,
        to_email=to_email.strip(),
        to_name=header_safe(to_name, 160),
        reply_to=reply_to.strip(),
        subject=header_safe(subject, 255),
        body_text=body_text,
        body_html=body_html,
        message_id=make_msgid(domain=sender_domain or "referloop.localhost"),
        user_id=user_id,
        contact_id=contact_id,
    )
    db.session.add(email)
    return email


def build_message(email: OutboundEmail) -> EmailMessage:
    """The MIME message for one outbox row; the same Message-ID on every attempt."""
    sender_name, sender_addr = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    message = EmailMessage()
    message["From"] = Address(display_name=header_safe(sender_name), addr_spec=sender_addr)
    message["To"] = Address(display_name=header_safe(email.to_name), addr_spec=email.to_email)
    if email.reply_to:
        message["Reply-To"] = Address(addr_spec=email.reply_to)
    message["Subject"] = header_safe(email.subject, 255)
    message["Message-ID"] = email.message_id
    message.set_content(email.body_text)
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    return message
