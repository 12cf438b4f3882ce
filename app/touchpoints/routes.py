"""Touchpoints: what is due, planning one by hand, and sending it with its link."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..helpers import is_htmx, mailto, owned_or_404, paginate, render_page_or_fragment
from ..models import Contact, ContactKind, Touchpoint, TouchpointState
from ..moments.queries import MOMENT_WHY, READINESS_WHY, missing_moments
from ..tokens import client_link_url
from . import bp
from .emails import link_days, queue_touchpoint_email, subject_for, whole_message, why_not_emailable
from .forms import ASK_MAX, ASK_MIN, EditTouchpointForm, TouchpointForm

# The lists on the index page: which touchpoints, in which order.
SENT_STATES = (
    TouchpointState.SENT,
    TouchpointState.OPENED,
    TouchpointState.ANSWERED,
    TouchpointState.EXPIRED,
)
LISTS = ("due", "upcoming", "sent", "cancelled")


def _list_filter(show: str, today: date):
    planned = Touchpoint.state == TouchpointState.PLANNED
    if show == "upcoming":
        return planned & (Touchpoint.due_on > today), (Touchpoint.due_on, Touchpoint.id)
    if show == "sent":
        return Touchpoint.state.in_(SENT_STATES), (
            Touchpoint.sent_at.desc().nulls_last(),
            Touchpoint.id.desc(),
        )
    if show == "cancelled":
        return Touchpoint.state == TouchpointState.CANCELLED, (
            Touchpoint.due_on.desc(),
            Touchpoint.id.desc(),
        )
    return planned & (Touchpoint.due_on <= today), (Touchpoint.due_on, Touchpoint.id)


def _list_counts(today: date) -> dict[str, int]:
    """How many touchpoints each list holds, in one query."""
    columns = []
    for show in LISTS:
        condition, _ = _list_filter(show, today)
        columns.append(sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0))
    row = db.session.execute(sa.select(*columns).where(Touchpoint.user_id == current_user.id)).one()
    return dict(zip(LISTS, row, strict=True))


@bp.route("/")
@login_required
def index():
    """Touchpoints that are due now (oldest first), or upcoming, sent or cancelled ones."""
    show = request.args.get("show", "due")
    if show not in LISTS:
        show = "due"
    today = date.today()
    condition, order = _list_filter(show, today)
    # The contact comes in the same query: one row per touchpoint, no query per row.
    query = (
        sa.select(Touchpoint)
        .join(Touchpoint.contact)
        .options(contains_eager(Touchpoint.contact))
        .where(Touchpoint.user_id == current_user.id, condition)
        .order_by(*order)
    )
    pagination = paginate(query)
    return render_template(
        "touchpoints/index.html",
        pagination=pagination,
        show=show,
        counts=_list_counts(today),
        today=today,
        why_not_emailable=why_not_emailable,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Plan a touchpoint by hand for one contact; the message is suggested on save."""
    contact_id = request.args.get("contact_id")
    if contact_id is None:
        flash("Open a contact first, then add a touchpoint from their page.", "info")
        return redirect(url_for("contacts.index"), 303)
    contact = owned_or_404(Contact, contact_id)
    # Defaults for the empty form; a submitted form keeps what was typed.
    form = TouchpointForm(
        due_on=date.today(),
        ask_count=min(max(current_user.ask_count, ASK_MIN), ASK_MAX),
    )
    if form.validate_on_submit():
        touchpoint = Touchpoint(user=contact.user, contact=contact)
        _apply_details(form, touchpoint)
        touchpoint.message = touchpoint.default_message()
        db.session.add(touchpoint)
        db.session.commit()
        flash(
            f"Touchpoint planned for {contact.name}. Check the suggested message below.",
            "success",
        )
        return redirect(url_for(".detail", touchpoint_id=touchpoint.id), 303)
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "touchpoints/new.html", form=form, contact=contact, **_readiness(contact, planning=True)
    )
    return page, status


@bp.route("/<int:touchpoint_id>", methods=["GET", "POST"])
@login_required
def detail(touchpoint_id):
    """One touchpoint: edit its details and message; send it and manage its link."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    form = EditTouchpointForm(obj=touchpoint)
    if form.validate_on_submit():
        _apply_details(form, touchpoint)
        if form.suggest.data:
            touchpoint.message = touchpoint.default_message()
            flash("Saved, with the suggested wording for the message.", "success")
        else:
            touchpoint.message = form.message.data.strip()
            flash("Saved.", "success")
        db.session.commit()
        return redirect(url_for(".detail", touchpoint_id=touchpoint.id), 303)
    status = 422 if form.is_submitted() else 200
    return _render_detail(touchpoint, form, status=status)


@bp.post("/<int:touchpoint_id>/email")
@login_required
def email(touchpoint_id):
    """Queue the touchpoint's email to the contact (again, as a reminder, if already sent)."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    reason = why_not_emailable(touchpoint)
    if reason:
        return _after_action(touchpoint, reason, "error")
    already_sent_at = touchpoint.sent_at
    queue_touchpoint_email(touchpoint)
    db.session.commit()
    if already_sent_at:
        first = f"{already_sent_at.day} {already_sent_at:%b %Y}"
        notice = (
            f"Queued again as a reminder (it was first sent on {first}). "
            "You can follow it in the Outbox."
        )
    else:
        notice = "Queued: you can follow it in the Outbox."
    return _after_action(touchpoint, notice)


@bp.post("/<int:touchpoint_id>/sent")
@login_required
def mark_sent(touchpoint_id):
    """Record that the professional sent the message and link themselves."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    if touchpoint.state == TouchpointState.CANCELLED:
        return _after_action(touchpoint, "This touchpoint is cancelled.", "error")
    touchpoint.mark_sent()
    db.session.commit()
    return _after_action(touchpoint, "Marked as sent. It moves to your sent list.")


@bp.post("/<int:touchpoint_id>/revoke")
@login_required
def revoke(touchpoint_id):
    """Stop every link sent so far; none works until a new one is issued."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    touchpoint.revoke_link()
    db.session.commit()
    return _after_action(
        touchpoint,
        "Link revoked. Links already sent no longer open the form. "
        "Issue a new link when you want to send one again.",
    )


@bp.post("/<int:touchpoint_id>/reissue")
@login_required
def reissue(touchpoint_id):
    """Replace the link: older links stop working, a new one works from now."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    touchpoint.reissue_link()
    db.session.commit()
    return _after_action(
        touchpoint,
        f"New link issued. Links sent before no longer work: "
        f"send this one to {touchpoint.contact.name}.",
    )


@bp.post("/<int:touchpoint_id>/cancel")
@login_required
def cancel(touchpoint_id):
    """Take the touchpoint off the lists; its link is left as it is."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    touchpoint.state = TouchpointState.CANCELLED
    db.session.commit()
    flash("Touchpoint cancelled.", "success")
    return redirect(url_for(".detail", touchpoint_id=touchpoint.id), 303)


@bp.post("/<int:touchpoint_id>/restore")
@login_required
def restore(touchpoint_id):
    """Undo a cancel: back to where the touchpoint had got to."""
    touchpoint = owned_or_404(Touchpoint, touchpoint_id)
    if touchpoint.state == TouchpointState.CANCELLED:
        touchpoint.state = _state_from_timestamps(touchpoint)
        db.session.commit()
        flash("Touchpoint restored.", "success")
    return redirect(url_for(".detail", touchpoint_id=touchpoint.id), 303)


def _apply_details(form: TouchpointForm, touchpoint: Touchpoint) -> None:
    touchpoint.due_on = form.due_on.data
    touchpoint.value_offered = (form.value_offered.data or "").strip()
    touchpoint.ask_count = form.ask_count.data
    touchpoint.auto_send = bool(form.auto_send.data)
    # Asking for the other vendors who serve them only makes sense for a client.
    touchpoint.ask_for_vendors = (
        bool(form.ask_for_vendors.data) and touchpoint.contact.kind == ContactKind.CLIENT
    )


def _readiness(contact: Contact, *, planning: bool) -> dict:
    """The readiness hint while a touchpoint is being planned: the advocacy moments the
    contact hasn't had yet (see app/moments)."""
    if not planning:
        return {"readiness": None}
    return {
        "readiness": {
            "missing": missing_moments(contact),
            "why": MOMENT_WHY,
            "readiness_why": READINESS_WHY,
        }
    }


def _state_from_timestamps(touchpoint: Touchpoint) -> TouchpointState:
    if touchpoint.answered_at:
        return TouchpointState.ANSWERED
    if touchpoint.first_opened_at:
        return TouchpointState.OPENED
    if touchpoint.sent_at:
        return TouchpointState.SENT
    return TouchpointState.PLANNED


def _send_context(touchpoint: Touchpoint, notice: str = "", notice_kind: str = "success"):
    """Everything the "Send it" component needs; the page and its actions share it."""
    contact = touchpoint.contact
    link = client_link_url(touchpoint) if touchpoint.link_active else ""
    mailto_link = ""
    if link and contact.email.strip():
        mailto_link = mailto(
            contact.email, subject=subject_for(touchpoint), body=whole_message(touchpoint, link)
        )
    return {
        "touchpoint": touchpoint,
        "contact": contact,
        "link": link,
        "whole_message": whole_message(touchpoint, link) if link else "",
        "mailto": mailto_link,
        "email_blocked": why_not_emailable(touchpoint),
        "link_days": link_days(),
        "today": date.today(),
        "notice": notice,
        "notice_kind": notice_kind,
    }


def _render_detail(touchpoint: Touchpoint, form: EditTouchpointForm, status: int = 200):
    planning = touchpoint.state == TouchpointState.PLANNED and not is_htmx()
    return render_page_or_fragment(
        "touchpoints/detail.html",
        "touchpoints/_send.html",
        status=status,
        form=form,
        **_send_context(touchpoint),
        **_readiness(touchpoint.contact, planning=planning),
    )


def _after_action(touchpoint: Touchpoint, notice: str, kind: str = "success"):
    """htmx gets the refreshed component with the notice inside; a plain form gets 303 + flash.

    A flash set during an htmx request would only show up on some later page.
    """
    if is_htmx():
        return render_page_or_fragment(
            "touchpoints/detail.html",
            "touchpoints/_send.html",
            status=422 if kind == "error" else 200,
            **_send_context(touchpoint, notice, kind),
        )
    flash(notice, kind)
    response = redirect(url_for(".detail", touchpoint_id=touchpoint.id), 303)
    response.vary.add("HX-Request")
    return response
