"""The referrer's side: the signed link, its one-minute form, and the thank-you.

After answering, the same link shows the people the referrer introduced (what
the professional told them, never private notes) and lets them choose how
often they hear; an expired link still shows those people, read-only.

Opening a link never submits, consumes or expires anything (mail scanners open
links too); it at most records when it was first opened. Everything else
happens on a POST.

Besides the free-form people, the form asks by name about each of the contact's
known connections not asked yet ("Would you be comfortable introducing ...?"),
and, when the touchpoint says so, about the client's other vendors. The lead
under the ask is framed for the kind of source; friends and family get shorter
rows. One POST saves everything in one commit.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from wtforms import RadioField
from wtforms.fields.choices import enum_choices, enum_coerce

from ..connections.queries import connections_to_ask
from ..database import reading_connection, writing
from ..extensions import db
from ..helpers import external_url, is_htmx, mailto, render_page_or_fragment
from ..mail import insert_rows
from ..models import (
    Connection,
    ConnectionStatus,
    Contact,
    ContactKind,
    EventKind,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    UpdatePreference,
    UpdateState,
    utcnow,
)
from ..records import ContactRecord, TouchpointRecord
from ..tokens import (
    ClientLink,
    LinkState,
    read_client_link,
    show_client_link,
    unsubscribe_token,
)
from . import bp
from .blank_rows import blank_people
from .drafts import referrer_drafts
from .emails import new_referrals_notice, queue_fresh_link_request, referrer_thanks
from .forms import (
    LinkForm,
    NamedAskForm,
    PersonForm,
    ReferralForm,
    VendorForm,
    answered_connection_ids,
    blank_person,
    blank_referral_form,
    field_from_trigger,
    named_asks,
    person_class,
    person_forms,
    vendor_forms,
)
from .wording import (
    NAMED_OUTCOME,
    NEXT_STEP,
    REFERRER_STATUS,
    UPDATES_PROMISE,
    VENDORS_HEADING,
    VENDORS_LEAD,
    ask_framing,
    first_name,
    forward_subject,
    terms_reminder,
    the_ask,
    words_to_say,
)

log = logging.getLogger(__name__)

# A referrer who finds their link expired can nudge the professional once a day.
FRESH_LINK_INTERVAL = timedelta(hours=24)

# The referrer's list of the people they introduced: the most recent ones, newest first.
INTRODUCED_LIMIT = 50

# Rows for the client's other vendors, when the touchpoint asks for them.
VENDOR_ROWS = 2

CHOOSE_UPDATES = "Choose how often you'd like to hear: every step, milestones only, or no updates."


class UpdatesForm(LinkForm):
    """The one setting a referrer can change from their link: how often they hear back."""

    update_preference = RadioField(
        "Updates about the people you've introduced",
        choices=enum_choices(UpdatePreference, label=lambda preference: preference.label),
        coerce=enum_coerce(UpdatePreference),
        validate_choice=True,
    )


@dataclass(frozen=True)
class Introduced:
    """One person as their referrer sees them: never the professional's private notes."""

    referral_id: int
    name: str
    is_vendor: bool  # a vendor they introduced as a source, not someone needing help
    touchpoint_id: int | None
    introduced_at: datetime
    status: ReferralStatus  # the latest step the referrer was told about
    status_text: str
    message: str  # the latest update they were told, in the professional's words
    told_at: datetime | None


@bp.get("/<token>")
def form(token):
    """The link itself: the form, or why the link no longer works."""
    link = _show_link(token)
    if link.state is not LinkState.VALID:
        return _link_problem(link, token)
    touchpoint = link.touchpoint
    page = _form_page(touchpoint, token)
    if request.method == "GET" and touchpoint.first_opened_at is None:
        _record_first_open(touchpoint.id)
    return page


@bp.post("/<token>")
def submit(token):
    """The form's one POST: add or remove a row (without JavaScript), or send it.

    The link is read and the form checked as a page is shown, without SQLite's
    write lock; the lock is taken only to write (``_save``), so referrers'
    submissions overlap.
    """
    # Records, not ORM objects: every write below is a statement of its own.
    link = _show_link(token)
    if link.state is not LinkState.VALID:
        return _link_problem(link, token)
    touchpoint = link.touchpoint
    pro, short = first_name(touchpoint.user), _is_short(touchpoint)
    form = ReferralForm(request.form)
    form.ensure_submission_key()
    action = request.form.get("action", "submit")
    # Every answer is read back, whatever the button: nothing typed is ever lost.
    connections = connections_to_ask(
        touchpoint.contact,
        touchpoint_id=touchpoint.id,
        answered=answered_connection_ids(request.form),
    )
    asks = named_asks(request.form, connections, professional=pro, short=short)
    vendors = vendor_forms(request.form, professional=pro, count=_vendor_rows(touchpoint))

    if action.startswith("remove-"):
        try:
            drop = int(action.removeprefix("remove-"))
        except ValueError:
            drop = None
        people = person_forms(
            request.form, professional=pro, limit=_max_people(), drop=drop, short=short
        )
        people = people or [blank_person(0, short)]
        context = _page_context(touchpoint, token, with_people=False)
        context |= {"asks": asks, "vendors": vendors}
        return _rerender(form, people, context, focus="add")

    people = person_forms(request.form, professional=pro, limit=_max_people(), short=short)
    if action == "add" or not people:
        if len(people) < _max_people():
            people.append(blank_person(len(people), short))
        context = _page_context(touchpoint, token, with_people=False)
        context |= {"asks": asks, "vendors": vendors}
        return _rerender(form, people, context, focus=f"person-{len(people) - 1}")

    answers = _validate(form, people, asks, vendors)
    if answers is None:
        errors = _error_summary(form, people, asks, vendors)
        context = _page_context(touchpoint, token) | {"asks": asks, "vendors": vendors}
        html = render_template(
            "capture/form.html", form=form, people=people, errors=errors, **context
        )
        return html, 422

    key = form.submission_key.data
    try:
        saved = _save(touchpoint, form, answers, token)
    except IntegrityError:
        # This submission is saved already (a double click, two tabs, a replay): once.
        saved = True
    if not saved and not _already_saved(key):
        # The link was revoked or replaced while the form was being checked.
        return _link_problem(_read_link(token), token)
    return redirect(url_for(".thanks", token=token, s=key), 303)


@bp.get("/<token>/person")
def person(token):
    """One more empty row for htmx, with the add button moved on to the next index."""
    touchpoint = _usable_touchpoint(token)
    index = request.args.get("index", type=int)
    if index is None or index < 0:
        abort(400)
    if touchpoint is None or index >= _max_people():
        return "", 204
    pro = first_name(touchpoint.user)
    return render_template(
        "capture/_person_added.html",
        person=blank_person(index, _is_short(touchpoint)),
        index=index,
        focus=f"person-{index}",
        token=token,
        pro=pro,
        max_people=_max_people(),
    )


@bp.post("/<token>/validate")
def validate(token):
    """Inline validation: the error (or none) for the one field the referrer just left."""
    touchpoint = _usable_touchpoint(token)
    target = field_from_trigger(request.headers.get("HX-Trigger-Name"))
    if target is None:
        abort(400)
    if touchpoint is None:
        return "", 204
    index, name = target
    person = person_class(_is_short(touchpoint))(
        request.form, prefix=f"people-{index}-", professional=first_name(touchpoint.user)
    )
    if name not in person:
        abort(400)
    person.validate()
    return render_template(
        "capture/_field_error.html", person=person, name=name, prefix=f"people-{index}-"
    )


@bp.get("/<token>/thanks")
def thanks(token):
    """After sending: the people named in that submission, and what happens next."""
    link = _show_link(token)
    if link.state is not LinkState.VALID:
        return _link_problem(link, token)
    touchpoint = link.touchpoint
    referrals = db.session.scalars(
        sa.select(Referral)
        .where(
            Referral.touchpoint_id == touchpoint.id,
            Referral.user_id == touchpoint.user_id,
            Referral.submission_key == request.args.get("s", ""),
        )
        .order_by(Referral.position)
    ).all()
    # Named questions this link answered with something other than a yes (a yes is a
    # referral above). A submission may hold only those.
    declined = db.session.scalars(
        sa.select(Connection)
        .where(
            Connection.touchpoint_id == touchpoint.id,
            Connection.user_id == touchpoint.user_id,
            Connection.status.in_([ConnectionStatus.NOT_NOW, ConnectionStatus.DONT_KNOW_WELL]),
        )
        .order_by(Connection.created_at, Connection.id)
    ).all()
    if not referrals and not declined:
        return redirect(url_for(".form", token=token), 303)
    context = _page_context(touchpoint, token, with_people=False)
    pro = context["pro"]
    people = [(r, NEXT_STEP[r.intro_method].format(pro=pro)) for r in referrals if not r.is_vendor]
    vendors = [r for r in referrals if r.is_vendor]
    outcomes = [NAMED_OUTCOME[c.status.value].format(pro=pro, name=c.name) for c in declined]
    updates = UPDATES_PROMISE[touchpoint.contact.update_preference].format(pro=pro)
    return render_template(
        "capture/thanks.html",
        people=people,
        vendors=vendors,
        outcomes=outcomes,
        updates=updates,
        **context,
    )


@bp.post("/<token>/fresh-link")
def request_fresh_link(token):
    """An expired link's one button: let the professional know, once a day at most."""
    link = _read_link(token)
    if link.state not in (LinkState.EXPIRED, LinkState.VALID):
        return _link_problem(link, token)
    touchpoint = link.touchpoint
    now = utcnow()
    # One conditional UPDATE decides who asks: double clicks and retries, even
    # concurrent ones on PostgreSQL, queue one email a day.
    claimed = db.session.execute(
        sa.update(Touchpoint)
        .where(
            Touchpoint.id == touchpoint.id,
            sa.or_(
                Touchpoint.fresh_link_requested_at.is_(None),
                Touchpoint.fresh_link_requested_at <= now - FRESH_LINK_INTERVAL,
            ),
        )
        .values(fresh_link_requested_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed:
        queue_fresh_link_request(touchpoint)
    db.session.commit()
    return redirect(url_for(".fresh_link_requested", token=token), 303)


@bp.get("/<token>/fresh-link")
def fresh_link_requested(token):
    """The confirmation after asking for a fresh link."""
    link = _show_link(token)
    if link.state not in (LinkState.EXPIRED, LinkState.VALID):
        return _link_problem(link, token)
    return render_template(
        "capture/fresh_link_requested.html",
        **_page_context(link.touchpoint, token, with_people=False),
    )


@bp.post("/<token>/updates")
def updates(token):
    """How often the referrer hears about their people; only a working link can change it."""
    link = _read_link(token)
    if link.state is not LinkState.VALID:
        response = _link_problem(link, token)
        if is_htmx():
            # The section cannot show why; reloading shows the expired or replaced page.
            response = current_app.make_response(response)
            response.headers["HX-Refresh"] = "true"
        return response
    touchpoint = link.touchpoint
    form = UpdatesForm()
    if not form.validate():
        form.update_preference.errors = [CHOOSE_UPDATES]
        if is_htmx():
            context = _page_context(touchpoint, token, with_people=False, updates_form=form)
            return _updates_fragment(context, status=422)
        return _form_page(touchpoint, token, updates_form=form, status=422)
    contact = touchpoint.contact
    contact.update_preference = form.update_preference.data
    db.session.commit()
    pro = first_name(touchpoint.user)
    saved = f"Saved. {UPDATES_PROMISE[contact.update_preference].format(pro=pro)}"
    if is_htmx():
        context = _page_context(touchpoint, token, with_people=False)
        return _updates_fragment(context, saved=saved)
    flash(saved, "success")
    response = redirect(url_for(".form", token=token), 303)
    response.vary.add("HX-Request")
    return response


# Helpers


def _max_people() -> int:
    return current_app.config["REFERRAL_FORM_MAX_PEOPLE"]


def _vendor_rows(touchpoint: Touchpoint) -> int:
    return VENDOR_ROWS if touchpoint.ask_for_vendors else 0


def _is_short(touchpoint: Touchpoint) -> bool:
    """Friends and family get the warmer, shorter rows."""
    return touchpoint.contact.kind == ContactKind.FRIEND_FAMILY


def _read_link(token: str) -> ClientLink:
    """The link's state, with ORM objects for a view that writes; a forged or
    unknown link is a plain 404."""
    return _known(read_client_link(token))


def _show_link(token: str) -> ClientLink:
    """The same with read-only records (records.py), for a view that only shows."""
    return _known(show_client_link(token))


def _known(link: ClientLink) -> ClientLink:
    if link.state is LinkState.INVALID:
        abort(404)
    return link


def _usable_touchpoint(token: str) -> TouchpointRecord | None:
    """For the form's htmx helpers, which only read: the touchpoint's record, None
    when the link stopped working."""
    link = _show_link(token)
    return link.touchpoint if link.state is LinkState.VALID else None


def _link_problem(link: ClientLink, token: str):
    """The page for a genuine link that can no longer be used, without the form.

    An expired link still shows how the referrer's people are doing (update
    emails link here long after the form closed); a replaced or revoked one
    shows nothing of them: the professional switched it off on purpose.
    """
    if link.state is LinkState.REPLACED:
        context = _page_context(link.touchpoint, token, with_people=False)
        # Revoked with no new link issued: there is no newer message to point to.
        revoked = not link.touchpoint.link_active
        return render_template("capture/replaced.html", revoked=revoked, **context), 410
    context = _page_context(link.touchpoint, token, link_works=False)
    requested = link.touchpoint.fresh_link_requested_at
    recently_asked = requested is not None and requested > utcnow() - FRESH_LINK_INTERVAL
    return render_template("capture/expired.html", recently_asked=recently_asked, **context), 410


def _page_context(
    touchpoint: Touchpoint,
    token: str,
    *,
    with_people: bool = True,
    link_works: bool = True,
    updates_form: UpdatesForm | None = None,
) -> dict:
    """What every referrer page shows: whose link it is, in their words.

    ``with_people`` adds the people the contact introduced (see ``_with_people``).
    """
    user, contact = touchpoint.user, touchpoint.contact
    pro = first_name(user)
    own = contact.own_wording
    line, blurb = words_to_say(user, own)
    context = {
        "token": token,
        "link_works": link_works,
        "touchpoint": touchpoint,
        "contact": contact,
        "user": user,
        "pro": pro,
        # The words to say, for this kind of source: the one line, and the blurb to
        # copy or forward by email (the line when there is no blurb).
        "say_this": line,
        "blurb": blurb,
        "forward_url": (
            mailto(subject=forward_subject(user), body=blurb or line) if blurb or line else ""
        ),
        "ask": the_ask(touchpoint.ask_count, pro),
        "framing": ask_framing(user, contact.kind, own),
        "terms": terms_reminder(contact, pro),
        "short": contact.kind == ContactKind.FRIEND_FAMILY,
        "vendors_heading": VENDORS_HEADING,
        "vendors_lead": VENDORS_LEAD.format(pro=pro),
        "max_people": _max_people(),
        # Built only for the pages that show it (see _with_updates_form): most never do.
        "updates_form": updates_form,
        "updates_promise": UPDATES_PROMISE[contact.update_preference].format(pro=pro),
        # An unsubscribed referrer gets no updates whatever they choose: say so, and
        # where to undo it.
        "resubscribe_url": (
            url_for("referrers.unsubscribe_page", token=unsubscribe_token(contact))
            if contact.unsubscribed_at is not None
            else ""
        ),
    }
    return _with_people(context) if with_people else context


def _with_people(context: dict) -> dict:
    """Add the people the contact introduced, through any of their links, and whether
    this link was answered (then the form only asks for anyone else)."""
    if "introduced" in context:
        return context
    touchpoint = context["touchpoint"]
    introduced, more = introduced_by(touchpoint.contact, context["pro"])
    answered = bool(introduced) and (
        touchpoint.answered_at is not None
        or any(person.touchpoint_id == touchpoint.id for person in introduced)
    )
    drafts = None
    if introduced:
        drafts = referrer_drafts(touchpoint, editable=context.get("link_works", True))
        context = _with_updates_form(context)
    return {
        **context,
        "introduced": introduced,
        "more_introduced": more,
        "answered": answered,
        "drafts": drafts,
    }


@functools.cache
def _introduced_query() -> sa.Select:
    """Built once (as is ``_told_query``): building a statement cost more than running it."""
    referral = Referral.__table__.c
    return (
        sa.select(
            referral.id,
            referral.name,
            referral.is_vendor,
            referral.touchpoint_id,
            referral.created_at,
        )
        .where(
            referral.contact_id == sa.bindparam("contact_id"),
            referral.user_id == sa.bindparam("user_id"),
        )
        .order_by(referral.created_at.desc(), referral.id.desc())
        .limit(INTRODUCED_LIMIT + 1)
    )


@functools.cache
def _told_query() -> sa.Select:
    event = ReferralEvent.__table__.c
    return (
        sa.select(
            event.referral_id,
            event.kind,
            event.to_status,
            event.referrer_message,
            event.referrer_told_at,
            event.created_at,
        )
        .where(
            event.referral_id.in_(sa.bindparam("ids", expanding=True)),
            event.user_id == sa.bindparam("user_id"),
            event.update_state == UpdateState.QUEUED,
        )
        .order_by(event.created_at, event.id)
    )


def introduced_by(contact: Contact | ContactRecord, pro: str) -> tuple[list[Introduced], bool]:
    """The people a contact introduced, newest first, as the referrer may see them.

    Two queries whatever the number of people: the people, then only the events
    the referrer was told about (update_state QUEUED). A step the professional
    did not tell stays invisible: the status shown is the latest one told, or
    "with <pro>" when none was. Private notes are never read. The second value
    says whether there are more people than the list shows. A contact's record
    (records.py) already knows whether there is anyone: no query when there isn't.
    """
    if getattr(contact, "introduced_anyone", True) is False:
        return [], False
    contact_id, user_id = contact.id, contact.user_id
    connection = reading_connection()
    rows = connection.execute(
        _introduced_query(), {"contact_id": contact_id, "user_id": user_id}
    ).all()
    more = len(rows) > INTRODUCED_LIMIT
    rows = rows[:INTRODUCED_LIMIT]
    if not rows:
        return [], False
    told = connection.execute(
        _told_query(), {"ids": [row.id for row in rows], "user_id": user_id}
    ).all()
    # Oldest to newest: a later event replaces what an earlier one said.
    status: dict[int, ReferralStatus] = {}
    latest: dict[int, tuple[str, datetime]] = {}
    for event in told:
        if event.kind == EventKind.STATUS and event.to_status is not None:
            status[event.referral_id] = event.to_status
        if event.referrer_message.strip():
            latest[event.referral_id] = (
                event.referrer_message,
                event.referrer_told_at or event.created_at,
            )
    people = []
    for row in rows:
        step = status.get(row.id, ReferralStatus.NEW)
        message, told_at = latest.get(row.id, ("", None))
        people.append(
            Introduced(
                referral_id=row.id,
                name=row.name,
                is_vendor=row.is_vendor,
                touchpoint_id=row.touchpoint_id,
                introduced_at=row.created_at,
                status=step,
                status_text=REFERRER_STATUS[step].format(pro=pro),
                message=message,
                told_at=told_at,
            )
        )
    return people, more


def _form_page(
    touchpoint: Touchpoint, token: str, *, updates_form: UpdatesForm | None = None, status=200
):
    """The link's page: the people introduced so far (if any) and the form for more."""
    context = _page_context(touchpoint, token, updates_form=updates_form)
    form = blank_referral_form(touchpoint.contact.update_preference)
    pro, short = context["pro"], context["short"]
    # Someone who already answered this link is adding to it: one row is enough then.
    rows = 1 if context["answered"] else max(1, min(touchpoint.ask_count, _max_people()))
    people = [blank_person(i, short) for i in range(rows)]
    asks = named_asks(None, connections_to_ask(touchpoint.contact), professional=pro, short=short)
    vendors = vendor_forms(None, professional=pro, count=_vendor_rows(touchpoint))
    people_html = blank_people(rows, short, token, pro, _max_people())
    return render_template(
        "capture/form.html",
        form=form,
        people=people,
        people_html=people_html,
        asks=asks,
        vendors=vendors,
        **context,
    ), status


def _with_updates_form(context: dict) -> dict:
    """Add the "how often you hear" form, unless the page already has one (with errors)."""
    if context.get("updates_form") is not None:
        return context
    preference = context["contact"].update_preference
    # formdata=None: never read another form's POST as this one.
    return {**context, "updates_form": UpdatesForm(formdata=None, update_preference=preference)}


def _updates_fragment(context: dict, *, saved: str = "", status: int = 200):
    """The "how often you hear" section alone, for htmx."""
    context = _with_updates_form(context)
    response = current_app.make_response(
        (render_template("capture/_updates.html", updates_saved=saved, **context), status)
    )
    response.vary.add("HX-Request")
    return response


def _rerender(form: ReferralForm, people: list[PersonForm], context: dict, focus: str):
    """The form again after adding or removing a row: values kept, no error messages."""
    if not is_htmx():
        context = _with_people(context)
    return render_page_or_fragment(
        "capture/form.html",
        "capture/_people.html",
        form=form,
        people=people,
        focus=focus,
        **context,
    )


@dataclass
class Answers:
    """What one submission says: named questions answered, people, and vendors."""

    asks: list[NamedAskForm]
    people: list[PersonForm]
    vendors: list[VendorForm]


def _validate(
    form: ReferralForm,
    people: list[PersonForm],
    asks: list[NamedAskForm],
    vendors: list[VendorForm],
) -> Answers | None:
    """What was answered, or None when anything needs fixing.

    Rows left empty and named questions left unanswered are skipped, so a
    referrer can answer only the named questions, or name one person for a
    two-person ask. With nothing at all, the first row says what it needs.
    """
    answered = [ask for ask in asks if ask.answered]
    named = [person for person in people if not person.is_blank]
    vendor_rows = [vendor for vendor in vendors if not vendor.is_blank]
    if not (answered or named or vendor_rows):
        named = people[:1]
    checks = [ask.validate() for ask in answered]
    checks += [person.validate() for person in named]
    checks += [vendor.validate() for vendor in vendor_rows]
    if form.validate() and all(checks):
        return Answers(asks=answered, people=named, vendors=vendor_rows)
    return None


def _error_summary(
    form: ReferralForm,
    people: list[PersonForm],
    asks: list[NamedAskForm],
    vendors: list[VendorForm],
) -> list[tuple[str, str]]:
    """Every problem as (field id, message), in page order, for the summary at the top."""
    errors = [
        (field_id, f"{ask.connection.name}: {message}")
        for ask in asks
        for field_id, message in ask.error_list()
    ]
    errors += [
        (field_id, f"Person {n + 1}: {message}" if len(people) > 1 else message)
        for n, person in enumerate(people)
        for field_id, message in person.error_list()
    ]
    errors += [
        (field_id, f"{vendor.legend}: {message}")
        for vendor in vendors
        for field_id, message in vendor.error_list()
    ]
    preference = form.update_preference
    errors += [(f"{preference.id}-0", message) for message in preference.errors[:1]]
    return errors


@functools.cache
def _saved_query() -> sa.Select:
    referral = Referral.__table__.c
    return sa.select(referral.id).where(referral.submission_key == sa.bindparam("key")).limit(1)


def _already_saved(key: str) -> bool:
    return reading_connection().execute(_saved_query(), {"key": key}).first() is not None


def _claim_answers(
    connection: sa.Connection,
    touchpoint: TouchpointRecord,
    asks: list[NamedAskForm],
    now: datetime,
) -> set[int]:
    """Record the answers to the named questions; the ids of the connections recorded.

    Only a connection still waiting for an answer takes one (a conditional UPDATE,
    at most one per kind of answer), so a replayed submission, or two tabs, can
    never answer it twice or turn one yes into two referrals.
    """
    by_answer: dict[ConnectionStatus, list[int]] = defaultdict(list)
    for ask in asks:
        if ask.status is not None:
            by_answer[ask.status].append(ask.connection.id)
    claimed: set[int] = set()
    for status, ids in by_answer.items():
        claimed.update(
            connection.execute(
                sa.update(Connection)
                .where(
                    Connection.id.in_(ids),
                    Connection.user_id == touchpoint.user_id,
                    Connection.contact_id == touchpoint.contact_id,
                    Connection.status == ConnectionStatus.NOT_ASKED,
                )
                .values(status=status, asked_at=now, touchpoint_id=touchpoint.id)
                .returning(Connection.id)
            ).scalars()
        )
    return claimed


def _referral_rows(
    touchpoint: TouchpointRecord, form: ReferralForm, answers: Answers, yes: set[int], now: datetime
) -> list[dict]:
    """The referrals one submission makes, in page order: the named questions answered
    yes (those in ``yes``), the people, then the vendors."""
    fields = [
        ask.referral_fields()
        for ask in answers.asks
        if ask.status == ConnectionStatus.YES and ask.connection.id in yes
    ]
    fields += [person.referral_fields() for person in answers.people]
    fields += [vendor.referral_fields() for vendor in answers.vendors]
    common = {
        "user_id": touchpoint.user_id,
        "contact_id": touchpoint.contact_id,
        "touchpoint_id": touchpoint.id,
        "submission_key": form.submission_key.data,
        "consent_at": now,
        "consent_notice_version": current_app.config["CONSENT_NOTICE_VERSION"],
        "status": ReferralStatus.NEW,
        "last_step_at": now,
        "created_at": now,
        # Every row has the same keys: one multi-row INSERT.
        "connection_id": None,
        "is_vendor": False,
    }
    return [{**common, **row, "position": position} for position, row in enumerate(fields)]


def _compose_emails(touchpoint: TouchpointRecord, rows: list[dict], token: str) -> list[dict]:
    """The thank-you and the professional's notice for these referrals (none for none),
    as outbox rows.

    Answers that named nobody ("not now", "I don't know them well") need no email:
    the professional sees them on the contact's page.
    """
    if not rows:
        return []
    # The emails read the rows' fields (never ids, which they do not have yet), as
    # attributes: a Referral's names, without the ORM's objects.
    referrals = [SimpleNamespace(**row) for row in rows]
    link = external_url("capture.form", token=token)
    emails = [referrer_thanks(touchpoint, referrals, link)]
    emails.append(new_referrals_notice(touchpoint, referrals))
    return [email for email in emails if email is not None]


@functools.cache
def _answer_query() -> sa.Update:
    """Built once (as are the statements below): every submission runs it."""
    touchpoint = Touchpoint.__table__.c
    now = sa.bindparam("now", type_=touchpoint.answered_at.type)
    return (
        sa.update(Touchpoint.__table__)
        .where(
            touchpoint.id == sa.bindparam("touchpoint_id"),
            touchpoint.link_version == sa.bindparam("version"),
            touchpoint.link_active,
        )
        .values(
            state=sa.case(
                (touchpoint.state == TouchpointState.CANCELLED, touchpoint.state),
                else_=TouchpointState.ANSWERED.value,
            ),
            answered_at=sa.func.coalesce(touchpoint.answered_at, now),
            first_opened_at=sa.func.coalesce(touchpoint.first_opened_at, now),
            # The rhythm has acted after it when the next one was just planned.
            rhythm_pending=sa.and_(
                touchpoint.rhythm_pending, sa.not_(sa.bindparam("planned", type_=sa.Boolean()))
            ),
        )
    )


def _answer_touchpoint(
    connection: sa.Connection, touchpoint: TouchpointRecord, now: datetime, planned: bool
) -> bool:
    """Mark the touchpoint answered, if its link still works; False when it does not.

    One conditional UPDATE: a link revoked or replaced since it was read is
    noticed here, inside the writing transaction. A cancelled touchpoint stays
    cancelled: the professional took it off their lists. ``planned``: the next
    touchpoint was planned just now, so the rhythm's mark is cleared too.
    """
    answered = connection.execute(
        _answer_query(),
        {
            "touchpoint_id": touchpoint.id,
            "version": touchpoint.link_version,
            "now": now,
            "planned": planned,
        },
    )
    return answered.rowcount == 1


@functools.cache
def _preference_query() -> sa.Update:
    contact = Contact.__table__
    return (
        contact.update()
        .where(contact.c.id == sa.bindparam("contact_id"))
        .values(update_preference=sa.bindparam("preference"))  # updated_at: its onupdate
    )


@functools.cache
def _insert_referrals() -> sa.Insert:
    return Referral.__table__.insert()


@functools.cache
def _history_query() -> sa.Insert:
    """The first step of the history of each referral a submission made: created, by
    the referrer. Read back by the submission key, so the referrals' INSERT needs
    no RETURNING (its many rows go in as one executemany)."""
    referral, event = Referral.__table__.c, ReferralEvent.__table__
    created = sa.select(
        referral.id,
        referral.user_id,
        sa.bindparam("kind", EventKind.CREATED, type_=event.c.kind.type),
        sa.bindparam("to_status", ReferralStatus.NEW, type_=event.c.to_status.type),
        sa.bindparam("author", type_=event.c.author.type),
        sa.bindparam("now", type_=event.c.created_at.type),
    ).where(referral.submission_key == sa.bindparam("key"))
    columns = ["referral_id", "user_id", "kind", "to_status", "author", "created_at"]
    return event.insert().from_select(columns, created)


def _save(touchpoint: TouchpointRecord, form: ReferralForm, answers: Answers, token: str) -> bool:
    """Answers, referrals, their history, the touchpoint, the preference and both
    emails: one commit. False when the link stopped working meanwhile (nothing saved).

    The rows and the emails are prepared before the write lock (``writing``), for
    the named questions as they were read; in the rare case another tab answered
    one of them meanwhile, they are prepared again. A submission whose every
    answer was already recorded (a replay of named answers only) changes nothing;
    a replayed one with people fails on the unique key, as the caller expects.
    """
    from ..touchpoints.planning import plan_after_answer  # the rhythm: plan the next one

    now = utcnow()
    expected = {ask.connection.id for ask in answers.asks if ask.status == ConnectionStatus.YES}
    rows = _referral_rows(touchpoint, form, answers, expected, now)
    preference = form.update_preference.data
    # Most referrers keep the choice the page showed them: nothing to write then.
    preference_changed = preference != touchpoint.contact.update_preference
    # The emails say how often the referrer will hear, as they just chose; the row
    # is written below, with the rest.
    contact = dataclasses.replace(touchpoint.contact, update_preference=preference)
    touchpoint = dataclasses.replace(touchpoint, contact=contact)
    # The emails are composed as rows, before the lock; they go in with one INSERT
    # below, once it is held and the answers are claimed.
    emails = _compose_emails(touchpoint, rows, token)
    with writing() as connection:
        # The rhythm first: the UPDATE that answers then also clears the mark the
        # rhythm left on this touchpoint, when the next one is planned.
        planned = plan_after_answer(touchpoint, connection=connection)
        if not _answer_touchpoint(connection, touchpoint, now, planned is not None):
            connection.rollback()
            return False
        claimed = _claim_answers(connection, touchpoint, answers.asks, now)
        if not expected <= claimed:
            rows = _referral_rows(touchpoint, form, answers, expected & claimed, now)
            emails = _compose_emails(touchpoint, rows, token)
        if not rows and not claimed:
            connection.rollback()
            return True
        if rows:
            connection.execute(_insert_referrals(), rows)
            author = f"{touchpoint.contact.name} (referrer)"
            connection.execute(
                _history_query(), {"key": form.submission_key.data, "author": author, "now": now}
            )
        if preference_changed:
            connection.execute(
                _preference_query(),
                {"contact_id": touchpoint.contact_id, "preference": preference},
            )
        insert_rows(emails, connection)
    return True


def _record_first_open(touchpoint_id: int) -> None:
    """Note the first opening, in a transaction of its own that starts by writing.

    A read transaction that later writes can fail at once with "database is
    locked" on SQLite, so the read one is ended first. Best effort: the page
    matters more than the timestamp.
    """
    db.session.rollback()
    now = utcnow()
    try:
        db.session.execute(
            sa.update(Touchpoint)
            .where(Touchpoint.id == touchpoint_id, Touchpoint.first_opened_at.is_(None))
            .values(
                first_opened_at=now,
                state=sa.case(
                    (
                        Touchpoint.state.in_([TouchpointState.PLANNED, TouchpointState.SENT]),
                        TouchpointState.OPENED.value,
                    ),
                    else_=Touchpoint.state,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("first opening of touchpoint %s not recorded", touchpoint_id, exc_info=True)
