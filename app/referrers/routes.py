"""One-click unsubscribe (RFC 8058) for every email to a referrer.

Mail clients POST ``List-Unsubscribe=One-Click`` to the address in the
``List-Unsubscribe`` header, with no cookies: the signed token is the only
credential, so these POSTs are exempt from CSRF. A GET (a person, or a mail
scanner following the footer link) only shows a page with a button.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, render_template

from ..extensions import csrf, db
from ..models import Contact, utcnow
from ..tokens import read_unsubscribe_token
from . import bp


def _contact(token: str) -> Contact:
    contact = read_unsubscribe_token(token)
    if contact is None:
        abort(404)
    return contact


def _page(contact: Contact, token: str, **context):
    return render_template(
        "referrers/unsubscribe.html",
        contact=contact,
        user=contact.user,
        token=token,
        **context,
    )


@bp.get("/<token>")
def unsubscribe_page(token):
    """Confirm before unsubscribing; opening the link changes nothing."""
    return _page(_contact(token), token)


@bp.post("/<token>")
@csrf.exempt
def unsubscribe(token):
    """Stop all email to this referrer; repeating it changes nothing."""
    contact = _contact(token)
    db.session.execute(
        sa.update(Contact)
        .where(Contact.id == contact.id, Contact.unsubscribed_at.is_(None))
        .values(unsubscribed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(contact)
    return _page(contact, token, done=True)


@bp.post("/<token>/undo")
@csrf.exempt
def resubscribe(token):
    """Changed their mind: emails from the professional can reach them again."""
    contact = _contact(token)
    contact.unsubscribed_at = None
    db.session.commit()
    return _page(contact, token, resubscribed=True)
