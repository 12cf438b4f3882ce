"""Contacts: the referral sources a professional records and works with."""

from datetime import date

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import contains_eager

from ..connections.queries import contact_connections
from ..extensions import db
from ..helpers import owned_or_404, paginate, render_page_or_fragment
from ..models import (
    Contact,
    EventKind,
    Referral,
    ReferralEvent,
    Touchpoint,
    TouchpointState,
    WantedCategory,
)
from ..moments.queries import contact_moments
from ..templating import day
from . import bp
from .forms import ContactForm

SEARCH_MAX_LENGTH = 100
SEARCH_COUNT_CAP = 100
DETAIL_LIST_SIZE = 20


@bp.route("/")
@login_required
def index():
    """Contacts by name, with active search; htmx gets just the results."""
    q = request.args.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    query = sa.select(Contact).where(Contact.user_id == current_user.id)
    if q:
        # The lowercased text kept on each contact (models.searchable_text): the
        # database's own LIKE reads it, with no function call per contact.
        query = query.where(Contact.search_text.contains(q.lower(), autoescape=True))
    query = query.order_by(sa.func.lower(Contact.name), Contact.id)
    # A search reads contacts until it has counted enough matches: say "more than
    # 100" sooner than for the whole list, as every row it reads is a string search.
    contacts = paginate(query, count_cap=SEARCH_COUNT_CAP if q else None)
    return render_page_or_fragment(
        "contacts/index.html",
        "contacts/_results.html",
        contacts=contacts,
        next_due=next_due_dates([contact.id for contact in contacts.items]),
        q=q,
        today=date.today(),
    )


def next_due_dates(contact_ids: list[int]) -> dict[int, date]:
    """Each contact's next planned touchpoint date, for a page of contacts in one query.

    The ids are a page of the professional's own contacts, so the query goes by
    contact alone, and picks the planned ones out of each contact's few
    touchpoints: with the professional or the state in the WHERE, SQLite
    prefers those indexes and reads every planned touchpoint the professional
    has, where ix_touchpoint_contact_due reads a few rows per contact.
    """
    if not contact_ids:
        return {}
    planned = sa.case((Touchpoint.state == TouchpointState.PLANNED, Touchpoint.due_on))
    rows = db.session.execute(
        sa.select(Touchpoint.contact_id, sa.func.min(planned))
        .where(Touchpoint.contact_id.in_(contact_ids))
        .group_by(Touchpoint.contact_id)
    )
    return {contact_id: due for contact_id, due in rows if due is not None}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Record a new referral source."""
    # A search that found nobody offers to add them: keep the name typed there.
    form = ContactForm(name=request.args.get("name", "")[:160])
    if form.validate_on_submit():
        contact = Contact(user_id=current_user.id)
        contact.user = current_user._get_current_object()
        form.populate_obj(contact)
        db.session.add(contact)
        db.session.flush()
        return _save(contact, delivery_changed=contact.delivered_on is not None)
    return _render_form(form, contact=None)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id: int):
    """Change a contact's details; a new delivery date moves the touchpoint it planned."""
    contact = owned_or_404(Contact, contact_id)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        delivered_before = contact.delivered_on
        form.populate_obj(contact)
        changed = contact.delivered_on is not None and contact.delivered_on != delivered_before
        return _save(contact, delivery_changed=changed)
    return _render_form(form, contact=contact)


def _render_form(form: ContactForm, contact: Contact | None):
    """The contact form; its category suggestions put the most-wanted list first.

    Two queries: the list, then the professional's other categories (those that
    are not the list's words, capitals and spaces aside).
    """
    status = 422 if form.is_submitted() else 200
    wanted = db.session.scalars(
        sa.select(WantedCategory.name)
        .where(WantedCategory.user_id == current_user.id)
        .order_by(WantedCategory.position, WantedCategory.id)
    ).all()
    keys = {name.strip().lower() for name in wanted}
    others = db.session.scalars(
        sa.select(Contact.category)
        .where(Contact.user_id == current_user.id, Contact.category != "")
        .distinct()
        .order_by(Contact.category)
        .limit(200)
    ).all()
    suggestions = list(wanted)
    for name in others:  # "Attorney" and "attorney " are one suggestion
        if (key := name.strip().lower()) not in keys:
            keys.add(key)
            suggestions.append(name.strip())
    return (
        render_template(
            "contacts/form.html",
            form=form,
            contact=contact,
            wanted=wanted,
            categories=suggestions,
        ),
        status,
    )


def _save(contact: Contact, delivery_changed: bool):
    """Commit the contact, planning the touchpoint after delivery in the same transaction.

    Only a new or changed delivery date (re)plans it: a touchpoint whose date the
    professional moved by hand stays where they put it when other details change.
    """
    message = "Saved."
    if delivery_changed:
        touchpoint = contact.plan_first_touchpoint()
        db.session.flush()  # a new touchpoint gets its state default
        if touchpoint is not None and touchpoint.state == TouchpointState.PLANNED:
            message = f"Saved. A touchpoint is planned for {day(touchpoint.due_on)}."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("contacts.detail", contact_id=contact.id), 303)


@bp.route("/<int:contact_id>")
@login_required
def detail(contact_id: int):
    """A contact's facts, agreed terms, touchpoints, the people they introduced and thanks."""
    contact = owned_or_404(Contact, contact_id)
    touchpoints = db.session.scalars(
        sa.select(Touchpoint)
        .where(Touchpoint.contact_id == contact.id, Touchpoint.user_id == current_user.id)
        .order_by(Touchpoint.due_on.desc(), Touchpoint.id.desc())
        .limit(DETAIL_LIST_SIZE)
    ).all()
    referrals = db.session.scalars(
        sa.select(Referral)
        .where(Referral.contact_id == contact.id, Referral.user_id == current_user.id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(DETAIL_LIST_SIZE)
    ).all()
    # The personal thank-yous they had, each with the person it was for.
    thanks = db.session.scalars(
        sa.select(ReferralEvent)
        .join(ReferralEvent.referral)
        .options(contains_eager(ReferralEvent.referral))
        .where(
            Referral.contact_id == contact.id,
            ReferralEvent.user_id == current_user.id,
            ReferralEvent.kind == EventKind.THANKS,
        )
        .order_by(ReferralEvent.created_at.desc(), ReferralEvent.id.desc())
        .limit(DETAIL_LIST_SIZE)
    ).all()
    touchpoint_count = _count_if_full(touchpoints, Touchpoint, contact)
    referral_count = _count_if_full(referrals, Referral, contact)
    return render_template(
        "contacts/detail.html",
        contact=contact,
        touchpoints=touchpoints,
        touchpoint_count=touchpoint_count,
        referrals=referrals,
        referral_count=referral_count,
        thanks=thanks,
        connections=contact_connections(contact),
        moments=contact_moments(contact),
    )


def _count_if_full(rows: list, model, contact: Contact) -> int:
    """How many rows there are in all; only asked when the shown list is full."""
    if len(rows) < DETAIL_LIST_SIZE:
        return len(rows)
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.contact_id == contact.id)
    )
