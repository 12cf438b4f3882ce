"""The five advocacy moments on a contact: tick the ones they've had, with when and a note.

One form for all five. The contact page shows it (``contacts/_moments.html``); htmx
swaps the section in place, and without JavaScript it posts, and comes back to the
contact page (or, when something needs fixing, to a page of its own with what was
typed kept).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..helpers import is_htmx, owned_or_404
from ..models import AdvocacyMoment, Contact, ContactMoment
from . import bp
from .forms import MomentsForm, moments_form
from .queries import contact_moments


@bp.app_template_global("moments_form_for")
def moments_form_for(moments: list[ContactMoment]) -> MomentsForm:
    """The form for the contact page, built from the moments its view already loaded."""
    return moments_form(moments)


@bp.route("/<int:contact_id>/moments", methods=["GET", "POST"])
@login_required
def edit(contact_id: int):
    """The moments form on a page of its own (GET), and saving it (POST)."""
    contact = owned_or_404(Contact, contact_id)
    if request.method == "GET":
        return _render(contact, moments_form(contact_moments(contact)))

    db.session.refresh(contact, with_for_update=True)  # one save at a time per contact
    recorded = {moment.moment: moment for moment in contact_moments(contact)}
    form = MomentsForm(recorded=set(recorded))
    if not form.validate_on_submit():
        return _render(contact, form, status=422)

    for row in form.rows():
        fields, existing = row.form, recorded.get(row.moment)
        if not fields.had.data:
            if existing is not None:
                db.session.delete(existing)
            continue
        if existing is None:
            existing = ContactMoment(
                user_id=current_user.id, contact_id=contact.id, moment=row.moment
            )
            db.session.add(existing)
        existing.happened_on = fields.happened_on.data
        existing.note = fields.note.data or ""
    db.session.commit()

    had = sum(1 for row in form.rows() if row.form.had.data)
    total = len(AdvocacyMoment)
    saved = f"Saved: {contact.first_name} has had {had} of the {total} moments."
    if is_htmx():
        return _render(contact, moments_form(contact_moments(contact)), moments_saved=saved)
    flash(saved, "success")
    response = redirect(url_for("contacts.detail", contact_id=contact.id, _anchor="moments"), 303)
    response.vary.add("HX-Request")
    return response


def _render(contact: Contact, form: MomentsForm, status: int = 200, **context):
    """The section alone for htmx, the page of its own otherwise."""
    template = "contacts/_moments.html" if is_htmx() else "moments/edit.html"
    html = render_template(template, contact=contact, moments_form=form, **context)
    response = current_app.make_response((html, status))
    response.vary.add("HX-Request")
    return response
