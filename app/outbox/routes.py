"""The Outbox pages: every email Referloop queued for the professional, and its fate."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..helpers import owned_or_404, paginate
from ..models import EmailState, OutboundEmail, utcnow
from . import bp

# "retried": still on its way, or delivered, after more than one attempt.
FILTERS = {
    "queued": OutboundEmail.state == EmailState.QUEUED,
    "sent": OutboundEmail.state == EmailState.SENT,
    "failed": OutboundEmail.state == EmailState.FAILED,
    "retried": OutboundEmail.state.in_((EmailState.QUEUED, EmailState.SENT))
    & (OutboundEmail.attempts > 1),
}


@bp.route("/")
@login_required
def index():
    """The professional's emails, newest first, optionally of one state."""
    state = request.args.get("state", "")
    query = sa.select(OutboundEmail).where(OutboundEmail.user_id == current_user.id)
    if state in FILTERS:
        query = query.where(FILTERS[state])
    else:
        state = ""
    query = query.order_by(OutboundEmail.created_at.desc(), OutboundEmail.id.desc())
    pagination = paginate(query)
    return render_template(
        "outbox/index.html",
        pagination=pagination,
        state=state,
        mail_configured=bool(current_app.config.get("MAIL_SERVER")),
    )


@bp.route("/<int:email_id>")
@login_required
def detail(email_id):
    """One email: its headers, where it stands, and its text and HTML bodies."""
    email = owned_or_404(OutboundEmail, email_id)
    return render_template(
        "outbox/detail.html",
        email=email,
        mail_configured=bool(current_app.config.get("MAIL_SERVER")),
        now=utcnow(),
    )


@bp.post("/<int:email_id>/retry")
@login_required
def retry(email_id):
    """Put a failed email back in the queue for the next delivery run."""
    email = owned_or_404(OutboundEmail, email_id)
    if email.state != EmailState.FAILED:
        flash("Only a failed email can be retried; this one is not failed.", "error")
    else:
        # last_error stays: it is the reason it failed, until a new attempt says otherwise.
        email.state = EmailState.QUEUED
        email.next_attempt_at = utcnow()
        email.claimed_until = None
        db.session.commit()
        flash("Queued again: it goes out on the next delivery run.", "success")
    return redirect(url_for(".detail", email_id=email.id), 303)


@bp.post("/<int:email_id>/send-now")
@login_required
def send_now(email_id):
    """Stop holding an update for more news: it goes on the next delivery run."""
    email = owned_or_404(OutboundEmail, email_id)
    # Only while it is still waiting: once claimed, the sender owns it.
    released = db.session.execute(
        sa.update(OutboundEmail)
        .where(OutboundEmail.id == email.id, OutboundEmail.state == EmailState.QUEUED)
        .values(next_attempt_at=utcnow(), batch_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if released:
        flash("It goes out on the next delivery run. Later news starts a new email.", "success")
    else:
        flash("This email is no longer waiting, so there was nothing to change.", "info")
    return redirect(url_for(".detail", email_id=email.id), 303)
