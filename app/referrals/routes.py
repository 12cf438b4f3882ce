"""The pipeline pages: every referral, its history, and what its referrer hears.

A status change happens in place: the list row (or the referral page's status
panel) turns into the update composer when the referrer wants to hear about the
step, or into a short confirmation when they don't. Without JavaScript the same
forms post normally and land on the composer page or the referral's page.
Every view commits once; ``updates`` writes the referrer's email in the same
transaction.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import contains_eager, joinedload

from ..capture import drafts
from ..capture.wording import (
    DRAFT_READY,
    DRAFT_READY_IN_EMAIL,
    DRAFT_UPDATED,
    HEADS_UP_DRAFT,
    person_first_name,
)
from ..extensions import db
from ..helpers import (
    MAX_ID,
    is_htmx,
    is_safe_next,
    owned_or_404,
    paginate,
    render_page_or_fragment,
)
from ..models import (
    Contact,
    ContactKind,
    EmailState,
    EventKind,
    IntroMethod,
    OutboundEmail,
    Referral,
    ReferralEvent,
    ReferralStatus,
    UpdatePreference,
    UpdateState,
    utcnow,
)
from ..referrers.emails import why_cannot_email
from . import bp, updates
from .forms import HeadsUpForm, IntroDraftForm, NoteForm, StatusForm, ThanksForm, UpdateForm
from .queries import ATTENTION_COUNT_CAP, attention_reasons, needs_attention

# The list: how it can be sorted, and how old a referral can be asked to be.
SORTS = {
    "newest": ("Newest first", (Referral.created_at.desc(), Referral.id.desc())),
    "oldest": ("Oldest first", (Referral.created_at, Referral.id)),
    "quiet": ("Longest since the last step", (Referral.last_step_at, Referral.id)),
    "name": ("Name", (sa.func.lower(Referral.name), Referral.id)),
}
AGES = {
    "7": "In the last 7 days",
    "30": "In the last 30 days",
    "90": "In the last 90 days",
    "older": "More than 90 days ago",
}
# "[what happened]" in a pre-written heads-up: words the professional must replace.
_PLACEHOLDERS = re.findall(r"\[[^\]]+\]", HEADS_UP_DRAFT)
# Past this many referrers the filter stops offering them all in a list: the
# contact's page leads to their referrals instead (see contacts/detail.html).
REFERRER_CHOICES = 100
# Where a status form or composer was shown, so the answer fits back in place.
PLACES = ("list", "attention", "detail", "page")


@bp.context_processor
def _pipeline_words() -> dict:
    """What every pipeline template may need: the statuses and the update window in words."""
    return {"statuses": list(ReferralStatus), "update_window": _window()}


# The pipeline list


def _referrer_choices() -> list[tuple[int, str]]:
    """The professional's contacts who referred someone, by name: at most
    REFERRER_CHOICES + 1 of them (one more says the list is too long to offer)."""
    referred = sa.select(Referral.id).where(Referral.contact_id == Contact.id).exists()
    rows = db.session.execute(
        sa.select(Contact.id, Contact.name)
        .where(Contact.user_id == current_user.id, referred)
        .order_by(sa.func.lower(Contact.name), Contact.id)
        .limit(REFERRER_CHOICES + 1)
    )
    return [(row.id, row.name) for row in rows]


def _chosen_referrer() -> tuple[int, str] | None:
    """The referrer asked for in ``?referrer=``, if they are the professional's and
    referred someone (looked up: they may be beyond the choices listed)."""
    referrer = request.args.get("referrer", "")
    if not re.fullmatch(r"[0-9]{1,19}", referrer) or int(referrer) > MAX_ID:
        return None
    referred = sa.select(Referral.id).where(Referral.contact_id == Contact.id).exists()
    row = db.session.execute(
        sa.select(Contact.id, Contact.name).where(
            Contact.id == int(referrer), Contact.user_id == current_user.id, referred
        )
    ).first()
    return (row.id, row.name) if row else None


def _read_filters(referrer: tuple[int, str] | None) -> dict:
    """The list's filters from the query string; anything not understood is left out."""
    args = request.args
    filters = {}
    if args.get("view") == "attention":
        filters["view"] = "attention"
    if args.get("status") in {status.value for status in ReferralStatus}:
        filters["status"] = args["status"]
    if referrer is not None:
        filters["referrer"] = referrer[0]
    if args.get("kind") in {kind.value for kind in ContactKind}:
        filters["kind"] = args["kind"]
    if args.get("age") in AGES:
        filters["age"] = args["age"]
    if args.get("sort") in SORTS and args["sort"] != "newest":
        filters["sort"] = args["sort"]
    return filters


def _list_query(filters: dict, now):
    """What ``paginate`` takes: referrals loaded with their referrer, in the list's
    order, and the list's ids in that order (no join unless a filter is on the
    referrer's kind: counting them, or skipping them to reach a later page, is
    then an index range)."""
    owner = Referral.user_id == current_user.id
    if "referrer" in filters:
        # One referrer's referrals are few: they are read along the contact's index
        # and sorted. "+ 0" keeps the owner check out of SQLite's choice of index;
        # without statistics it would walk the professional's sorted index instead,
        # through every referral they have, to find this referrer's.
        owner = (Referral.user_id + 0) == current_user.id
    conditions = [owner]
    if filters.get("view") == "attention":
        conditions.append(needs_attention(current_user, now))
    if "status" in filters:
        conditions.append(Referral.status == ReferralStatus(filters["status"]))
    if "referrer" in filters:
        conditions.append(Referral.contact_id == filters["referrer"])
    if "kind" in filters:
        conditions.append(Contact.kind == ContactKind(filters["kind"]))
    age = filters.get("age")
    if age == "older":
        conditions.append(Referral.created_at < now - timedelta(days=90))
    elif age:
        conditions.append(Referral.created_at >= now - timedelta(days=int(age)))
    _, order = SORTS[filters.get("sort", "newest")]
    # Only ever loaded by the ids below (paginate): those carry the owner check and
    # every filter, so the rows themselves carry none.
    rows = (
        sa.select(Referral)
        .join(Referral.contact)
        .options(contains_eager(Referral.contact))
        .order_by(*order)
    )
    ids = sa.select(Referral.id).where(*conditions).order_by(*order)
    if "kind" in filters:
        ids = ids.join(Referral.contact)
    return rows, ids


@bp.route("/")
@login_required
def index():
    """Every referral, filtered and sorted; htmx gets just the results."""
    now = utcnow()
    referrers = _referrer_choices()
    chosen = _chosen_referrer()
    filters = _read_filters(chosen)
    attention = filters.get("view") == "attention"
    rows, ids = _list_query(filters, now)
    pagination = paginate(rows, ATTENTION_COUNT_CAP if attention else None, ids=ids)
    return render_page_or_fragment(
        "referrals/index.html",
        "referrals/_results.html",
        pagination=pagination,
        filters=filters,
        referrers=referrers[:REFERRER_CHOICES],
        too_many_referrers=len(referrers) > REFERRER_CHOICES,
        chosen_referrer=chosen,
        sorts={key: label for key, (label, _) in SORTS.items()},
        ages=AGES,
        kinds=[(kind.value, kind.label) for kind in ContactKind],
        now=now,
        where="attention" if attention else "list",
        next_url=_list_url(filters, pagination.page),
        row_reasons={
            referral.id: attention_reasons(referral, current_user, now)
            for referral in (pagination.items if attention else [])
        },
    )


def _list_url(filters: dict, page: int) -> str:
    return url_for(".index", page=page if page > 1 else None, **filters)


# One referral


@bp.route("/<int:referral_id>")
@login_required
def detail(referral_id: int):
    """Everything the referrer wrote, who they are, the history, and the next steps."""
    referral = owned_or_404(Referral, referral_id)
    return _render_detail(referral)


def _history(referral: Referral) -> list[tuple[ReferralEvent, object]]:
    """The referral's events, newest first, each with its email's state, in one query."""
    rows = db.session.execute(
        sa.select(ReferralEvent, OutboundEmail.state)
        .outerjoin(OutboundEmail, OutboundEmail.id == ReferralEvent.email_id)
        .where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.user_id == current_user.id,
        )
        .order_by(ReferralEvent.created_at.desc(), ReferralEvent.id.desc())
    )
    return [(event, state) for event, state in rows]


def _detail_context(referral: Referral, **context) -> dict:
    now = utcnow()
    contact = referral.contact
    context.setdefault("status_form", None)
    context.setdefault("note_form", NoteForm(formdata=None))
    context.setdefault("history", _history(referral))
    return {
        "referral": referral,
        "contact": contact,
        "blocked": why_cannot_email(contact),
        "reasons": attention_reasons(referral, current_user, now),
        "now": now,
        "where": "detail",
        "next_url": None,
        **context,
    }


def _render_detail(referral: Referral, status: int = 200, **context):
    context = _detail_context(referral, **context)
    if referral.intro_method == IntroMethod.DRAFT_FOR_REFERRER:
        context = _draft_context(referral, context)
    return render_template("referrals/detail.html", **context), status


# Changing the status, in place


def _place() -> str:
    place = request.values.get("where", "detail")
    return place if place in PLACES else "detail"


def _next_url() -> str | None:
    target = request.values.get("next", "")
    return target if is_safe_next(target) else None


def _in_place(referral: Referral, status: int = 200, **context):
    """The list row or the status panel again, for htmx, with whatever changed inside."""
    place = _place()
    if place in ("list", "attention"):
        now = utcnow()
        reasons = attention_reasons(referral, current_user, now) if place == "attention" else []
        html = render_template(
            "referrals/_row.html",
            referral=referral,
            now=now,
            where=place,
            next_url=_next_url(),
            row_reasons={referral.id: reasons},
            blocked=why_cannot_email(referral.contact),
            **context,
        )
    else:
        ctx = _detail_context(referral, **context)
        html = render_template("referrals/_status_panel.html", oob_history=True, **ctx)
    response = current_app.make_response((html, status))
    response.vary.add("HX-Request")
    return response


def _see_other(url: str):
    response = redirect(url, 303)
    response.vary.add("HX-Request")
    return response


def _window() -> str:
    """The update window in words: "about 15 minutes"."""
    minutes = round(current_app.config["REFERRER_UPDATE_WINDOW_SECONDS"] / 60)
    return "a minute" if minutes <= 1 else f"about {minutes} minutes"


def _why_not_told(contact: Contact, status: ReferralStatus) -> str:
    """Why a status step sends nothing by default, in a sentence."""
    blocked = why_cannot_email(contact)
    if blocked:
        return blocked
    first = contact.first_name
    if contact.update_preference == UpdatePreference.NONE:
        return f"{first} asked not to get updates, so none is sent."
    if contact.update_preference == UpdatePreference.MILESTONES:
        return f"{first} asked for milestones only, so no update is sent."
    return f"A move back to {status.label} isn't news for {first}, so no update is sent."


@bp.post("/<int:referral_id>/status")
@login_required
def change_status(referral_id: int):
    """Move the referral on; then compose the referrer's update, or say why there is none."""
    # One step at a time per referral; the referrer comes along, as every answer shows them.
    referral = owned_or_404(Referral, referral_id, _WITH_REFERRER, for_update=True)
    form = StatusForm()
    valid = form.validate_on_submit()
    if valid and _corrects_value(referral, form):
        return _correct_value(referral, form.value_won.data)
    if valid and form.status.data == referral.status:
        form.status.errors.append(
            f"{referral.name} is already at “{referral.status.label}”. Choose another "
            "status, or add a private note instead."
        )
        valid = False
    if not valid:
        if is_htmx():
            return _in_place(referral, 422, status_form=form)
        return _render_detail(referral, 422, status_form=form)

    status = form.status.data
    event = updates.record_status_change(
        referral,
        status,
        author=current_user.name,
        note=form.note.data or "",
        value_won=form.value_won.data if status == ReferralStatus.WON else None,
    )
    db.session.commit()
    _reload(referral)

    contact = referral.contact
    if event.update_state == UpdateState.PENDING:
        if is_htmx():
            return _in_place(
                referral,
                mode="compose",
                event=event,
                update_form=UpdateForm(
                    formdata=None, message=updates.draft_for(referral, EventKind.STATUS, status)
                ),
                notice=f"Status changed to {status.label}.",
            )
        return _see_other(
            url_for(".tell", referral_id=referral.id, event_id=event.id, next=_next_url())
        )

    notice = f"Status changed to {status.label}. {_why_not_told(contact, status)}"
    if is_htmx():
        return _in_place(
            referral,
            notice=notice,
            write_anyway=event if _can_write_anyway(contact, event) else None,
        )
    flash(notice, "success")
    return _see_other(url_for(".detail", referral_id=referral.id))


# The referral's referrer in the same query (a referral always has one).
_WITH_REFERRER = joinedload(Referral.contact, innerjoin=True)


def _reload(referral: Referral) -> None:
    """After a commit, read the referral and its referrer again in one query, not one each."""
    (referral_id,) = sa.inspect(referral).identity  # referral.id would load it by itself
    db.session.execute(
        sa.select(Referral).options(_WITH_REFERRER).where(Referral.id == referral_id)
    ).one()


def _corrects_value(referral: Referral, form: StatusForm) -> bool:
    """ "Became a client" again with a new value: a correction of the value, not a step."""
    return (
        referral.status == ReferralStatus.WON
        and form.status.data == ReferralStatus.WON
        and form.value_won.data is not None
        and form.value_won.data != referral.value_won
    )


def _correct_value(referral: Referral, value):
    """Record the corrected value with a private note saying what it was; nobody is told."""
    before = "not recorded" if referral.value_won is None else f"{referral.value_won:,.2f}"
    referral.add_note(
        f"Value of the business changed from {before} to {value:,.2f}.",
        author=current_user.name,
    )
    referral.value_won = value
    db.session.commit()
    notice = f"Value of the business updated to {value:,.2f}."
    if is_htmx():
        return _in_place(referral, notice=notice)
    flash(notice, "success")
    return _see_other(url_for(".detail", referral_id=referral.id))


def _can_write_anyway(contact: Contact, event: ReferralEvent) -> bool:
    """Whether the professional can still write an update for a step nobody was told about."""
    return (
        event.kind == EventKind.STATUS
        and event.update_state != UpdateState.QUEUED
        and why_cannot_email(contact) is None
    )


# The update composer


def _tellable_event(referral: Referral, event_id: int) -> ReferralEvent:
    """One of this referral's status steps; another referral's or professional's is a 404."""
    event = owned_or_404(ReferralEvent, event_id)
    if event.referral_id != referral.id or event.kind != EventKind.STATUS:
        abort(404)
    return event


@bp.route("/<int:referral_id>/events/<int:event_id>/tell", methods=["GET", "POST"])
@login_required
def tell(referral_id: int, event_id: int):
    """Write the referrer's update for one step: send it, or don't tell them this time."""
    referral = owned_or_404(Referral, referral_id)
    event = _tellable_event(referral, event_id)
    contact = referral.contact
    if request.method == "POST":
        # A second click, or another tab, waits here and then sees the first one's result.
        db.session.refresh(event, with_for_update=True)

    if event.update_state == UpdateState.QUEUED:
        return _done(referral, f"{contact.first_name} already has this update on its way.")

    draft = updates.draft_for(referral, EventKind.STATUS, event.to_status)
    if request.method == "GET":
        return _compose(referral, event, UpdateForm(formdata=None, message=draft))

    if request.form.get("action") == "skip":
        updates.skip_update(event)
        db.session.commit()
        return _done(referral, f"Fine: {contact.first_name} isn't told about this step.")

    form = UpdateForm()
    if not form.validate_on_submit():
        return _compose(referral, event, form, status=422)
    try:
        updates.tell_referrer(event, form.message.data)
    except updates.CannotTell as problem:
        db.session.rollback()
        return _compose(referral, event, form, status=422, error=str(problem))
    db.session.commit()
    return _done(
        referral,
        f"Your update to {contact.first_name} goes out within {_window()}, together with "
        "any other news for them.",
        outbox=True,
    )


def _compose(referral: Referral, event: ReferralEvent, form: UpdateForm, status=200, **context):
    """The composer: in place for htmx, or as a page of its own."""
    if is_htmx() and _place() != "page":
        return _in_place(referral, status, mode="compose", event=event, update_form=form, **context)
    page = render_template(
        "referrals/tell.html",
        referral=referral,
        contact=referral.contact,
        event=event,
        update_form=form,
        where="page",
        next_url=_next_url(),
        blocked=why_cannot_email(referral.contact),
        **context,
    )
    return page, status


def _done(referral: Referral, notice: str, outbox: bool = False):
    """After sending or skipping: the refreshed row or panel, or back where they came from."""
    if is_htmx() and _place() != "page":
        return _in_place(referral, notice=notice, outbox=outbox)
    flash(notice, "success")
    return _see_other(_next_url() or url_for(".detail", referral_id=referral.id))


# Private notes


@bp.post("/<int:referral_id>/note")
@login_required
def note(referral_id: int):
    """A private note in the history; the referrer never sees it."""
    referral = owned_or_404(Referral, referral_id)
    form = NoteForm()
    if not form.validate_on_submit():
        if is_htmx():
            return _history_fragment(referral, 422, note_form=form)
        return _render_detail(referral, 422, note_form=form)
    referral.add_note(form.note.data, author=current_user.name)
    db.session.commit()
    if is_htmx():
        return _history_fragment(referral, note_notice="Note added. Only you can see it.")
    flash("Note added. Only you can see it.", "success")
    return _see_other(url_for(".detail", referral_id=referral.id))


def _history_fragment(referral: Referral, status: int = 200, **context):
    html = render_template("referrals/_history.html", **_detail_context(referral, **context))
    response = current_app.make_response((html, status))
    response.vary.add("HX-Request")
    return response


# A personal thank-you, and a heads-up when something went wrong


@bp.route("/<int:referral_id>/thank", methods=["GET", "POST"])
@login_required
def thank(referral_id: int):
    """A thank-you note from the professional, with the referrer's next update email."""
    referral = owned_or_404(Referral, referral_id)
    contact = referral.contact
    blocked = why_cannot_email(contact)
    form = ThanksForm(message=updates.draft_for(referral, EventKind.THANKS))
    error = None
    if form.validate_on_submit():
        try:
            updates.add_thanks(referral, form.message.data, author=current_user.name)
        except updates.CannotTell as problem:
            db.session.rollback()
            error = str(problem)
        else:
            db.session.commit()
            flash(
                f"Your thank-you to {contact.first_name} goes out within {_window()}, "
                "together with any other news for them.",
                "success",
            )
            return _see_other(url_for(".detail", referral_id=referral.id))
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "referrals/thank.html",
        referral=referral,
        contact=contact,
        form=form,
        blocked=blocked,
        error=error,
        earlier=_earlier_thanks(referral),
    )
    return page, status


def _earlier_thanks(referral: Referral) -> list[ReferralEvent]:
    return db.session.scalars(
        sa.select(ReferralEvent)
        .where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.user_id == current_user.id,
            ReferralEvent.kind == EventKind.THANKS,
        )
        .order_by(ReferralEvent.created_at.desc(), ReferralEvent.id.desc())
        .limit(5)
    ).all()


@bp.route("/<int:referral_id>/heads-up", methods=["GET", "POST"])
@login_required
def heads_up(referral_id: int):
    """Something went wrong with the person: the referrer hears it from the professional first."""
    referral = owned_or_404(Referral, referral_id)
    contact = referral.contact
    blocked = why_cannot_email(contact)
    form = HeadsUpForm(message=updates.draft_for(referral, EventKind.HEADS_UP))
    error = None
    valid = form.validate_on_submit()
    if valid and any(gap in form.message.data for gap in _PLACEHOLDERS):
        form.message.errors.append("Replace the parts in [brackets] with what happened.")
        valid = False
    if valid:
        try:
            updates.add_heads_up(
                referral, form.message.data, author=current_user.name, note=form.note.data or ""
            )
        except updates.CannotTell as problem:
            db.session.rollback()
            error = str(problem)
        else:
            db.session.commit()
            flash(
                f"Your heads-up to {contact.first_name} goes out within {_window()}, "
                "together with any other news for them.",
                "success",
            )
            return _see_other(url_for(".detail", referral_id=referral.id))
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "referrals/heads_up.html",
        referral=referral,
        contact=contact,
        form=form,
        blocked=blocked,
        error=error,
    )
    return page, status


# "Draft an introduction for me to send"


def _draft_context(referral: Referral, context: dict) -> dict:
    """The draft section: the form (pre-filled), whether the referrer was told, and
    whether they have a working link to open it with."""
    if context.get("draft_form") is None:
        context["draft_form"] = IntroDraftForm(
            formdata=None,
            subject=referral.intro_draft_subject or drafts.default_subject(referral),
            body=referral.intro_draft or drafts.default_body(referral),
        )
    context["draft_told"] = next(
        (
            event
            for event, _ in context["history"]
            if event.kind == EventKind.DRAFT and event.update_state == UpdateState.QUEUED
        ),
        None,
    )
    context["draft_link"] = bool(updates.referrer_view_url(referral.contact))
    return context


@bp.post("/<int:referral_id>/draft")
@login_required
def draft(referral_id: int):
    """Save the introduction the referrer will send; "save and tell" also lets them know."""
    referral = owned_or_404(Referral, referral_id)
    if referral.intro_method != IntroMethod.DRAFT_FOR_REFERRER:
        abort(404)
    db.session.refresh(referral, with_for_update=True)  # one save at a time per referral
    form = IntroDraftForm()
    if not form.validate_on_submit():
        return _render_detail(referral, 422, draft_form=form)
    referral.intro_draft_subject = form.subject.data
    referral.intro_draft = drafts.normalise(form.body.data)
    first = referral.contact.first_name
    if request.form.get("action") == "tell":
        notice, kind = _tell_draft_ready(referral)
    elif updates.referrer_view_url(referral.contact):
        notice, kind = f"Draft saved. {first} sees it on their page.", "success"
    else:
        notice, kind = (
            f"Draft saved. {first} has no working link to see it on yet: "
            "“Save and tell” sends it to them by email.",
            "success",
        )
    db.session.commit()
    flash(notice, kind)
    return _see_other(url_for(".detail", referral_id=referral.id, _anchor="draft"))


def _tell_draft_ready(referral: Referral) -> tuple[str, str]:
    """Tell the referrer the draft is ready, once: a second click while the first
    update is still waiting to go adds nothing. Returns (notice, flash kind)."""
    contact = referral.contact
    first = contact.first_name
    told = db.session.execute(
        sa.select(OutboundEmail.state, OutboundEmail.attempts)
        .join(ReferralEvent, ReferralEvent.email_id == OutboundEmail.id)
        .where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.user_id == current_user.id,
            ReferralEvent.kind == EventKind.DRAFT,
            ReferralEvent.update_state == UpdateState.QUEUED,
        )
        .order_by(ReferralEvent.created_at.desc(), ReferralEvent.id.desc())
        .limit(1)
    ).first()
    link = updates.referrer_view_url(contact)
    if told is not None and told.state == EmailState.QUEUED and told.attempts == 0 and link:
        return (
            f"Draft saved. The update telling {first} it's ready hasn't gone yet, "
            "and their page shows this version.",
            "success",
        )
    name = person_first_name(referral.name)
    if link:
        message = (DRAFT_UPDATED if told is not None else DRAFT_READY).format(name=name)
    else:
        message = f"{DRAFT_READY_IN_EMAIL.format(name=name)}\n\n{drafts.draft_as_text(referral)}"
    event = ReferralEvent(
        referral=referral,
        user_id=referral.user_id,
        kind=EventKind.DRAFT,
        author=current_user.name,
        update_state=UpdateState.PENDING,
    )
    db.session.add(event)
    try:
        updates.tell_referrer(event, message)
    except updates.CannotTell as problem:
        event.update_state = UpdateState.SKIPPED
        return (
            f"Draft saved, but Referloop can't tell {first} it's ready: {problem} "
            f"Let {first} know another way.",
            "error",
        )
    return (
        f"Draft saved. {first} hears it's ready within {_window()}, together with any "
        "other news for them.",
        "success",
    )
