"""Known connections: people the professional knows a contact knows.

Each one becomes a named question on the contact's next referral form ("Would
you be comfortable introducing Dana to David Jones at Acme?"); the contact page
shows what came of it. Plain forms post and redirect; with htmx the section on
the contact page (``contacts/_connections.html``) is swapped in place.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..helpers import MAX_ID, is_htmx, owned_or_404, render_page_or_fragment
from ..models import Connection, ConnectionStatus, Contact
from . import bp
from .forms import ConnectionForm
from .queries import contact_connections, owned_connection

SECTION = "contacts/_connections.html"

# Answers the professional can set aside, so the question comes back on the next form.
ASKABLE_AGAIN = frozenset({ConnectionStatus.NOT_NOW, ConnectionStatus.DONT_KNOW_WELL})


@bp.route("/<int:contact_id>/connections/new", methods=["GET", "POST"])
@login_required
def add(contact_id: int):
    """Record a connection. The contact page carries the same form; this page is where
    it lands (with the problem shown) when it cannot be saved without JavaScript."""
    contact = owned_or_404(Contact, contact_id)
    form = ConnectionForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        if status == 422 and is_htmx():
            return _section(contact, status=422, connection_form=form)
        return render_template("connections/new.html", contact=contact, form=form), status
    connection = Connection(user_id=current_user.id, contact_id=contact.id, **form.values())
    db.session.add(connection)
    db.session.commit()
    notice = f"Added {connection.name}. {contact.first_name}'s next form asks about them by name."
    return _done(contact, notice)


@bp.route("/<int:contact_id>/connections/<int:connection_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id: int, connection_id: int):
    """Change a connection's name, organisation or how they know each other."""
    contact, connection = _owned(contact_id, connection_id)
    form = ConnectionForm(obj=connection)
    if form.validate_on_submit():
        for name, value in form.values().items():
            setattr(connection, name, value)
        db.session.commit()
        return _done(contact, f"Saved {connection.name}.")
    status = 422 if form.is_submitted() else 200
    return (
        render_template("connections/edit.html", contact=contact, connection=connection, form=form),
        status,
    )


@bp.route("/<int:contact_id>/connections/<int:connection_id>/remove", methods=["GET", "POST"])
@login_required
def remove(contact_id: int, connection_id: int):
    """GET asks to confirm; POST removes. A referral made from it stays in the pipeline."""
    contact, connection = _owned(contact_id, connection_id)
    if request.method != "POST":
        return render_template("connections/remove.html", contact=contact, connection=connection)
    name = connection.name
    db.session.delete(connection)
    db.session.commit()
    return _done(contact, f"Removed {name}.")


@bp.post("/<int:contact_id>/connections/<int:connection_id>/ask-again")
@login_required
def ask_again(contact_id: int, connection_id: int):
    """Put a "not now" (or "I don't know them well") back on the next form."""
    contact, connection = _owned(contact_id, connection_id)
    if connection.status == ConnectionStatus.YES:
        return _done(contact, f"{contact.first_name} already said yes to {connection.name}.")
    if connection.status not in ASKABLE_AGAIN:
        return _done(contact, f"{contact.first_name}'s next form already asks about them.")
    connection.status = ConnectionStatus.NOT_ASKED
    db.session.commit()
    return _done(contact, f"{contact.first_name}'s next form asks about {connection.name} again.")


# Helpers


def _owned(contact_id: int, connection_id: int) -> tuple[Contact, Connection]:
    """The current professional's contact and one of its connections, or 404."""
    contact = owned_or_404(Contact, contact_id)
    if not 1 <= connection_id <= MAX_ID:
        abort(404)
    connection = owned_connection(contact, connection_id)
    if connection is None:
        abort(404)
    return contact, connection


def _section(contact: Contact, status: int = 200, **context):
    """The contact page's section alone, for htmx."""
    return render_page_or_fragment(
        SECTION,
        SECTION,
        status=status,
        contact=contact,
        connections=contact_connections(contact),
        **context,
    )


def _done(contact: Contact, notice: str):
    """After a change: the section with a confirmation for htmx, else back to the contact."""
    if is_htmx():
        return _section(contact, connections_notice=notice)
    flash(notice, "success")
    response = redirect(url_for("contacts.detail", contact_id=contact.id) + "#connections", 303)
    response.vary.add("HX-Request")
    return response
