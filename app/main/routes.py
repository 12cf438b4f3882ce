"""The professional's home page and settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from .. import helpers
from ..auth.routes import any_user_exists
from ..capture.wording import ASK_FRAMING, KIND_WORDING_NOTES, first_name, the_ask
from ..extensions import db, login_manager
from ..helpers import capped_count
from ..models import (
    Contact,
    ContactKind,
    EventKind,
    KindWording,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    User,
    utcnow,
)
from ..referrals.queries import ATTENTION_COUNT_CAP, attention_reasons, needs_attention
from . import bp
from .forms import SettingsForm, WordingForm

HOME_LIST_SIZE = 10
# Answers this recent are "new".
NEW_ANSWER_DAYS = 14
# How many referrals that need attention the home page lists (the count covers all).
ATTENTION_LIST_SIZE = 5


@bp.route("/")
def index():
    """What needs doing: touchpoints due, new answers, referrals needing attention, the quarter.

    A constant number of queries whatever the amount of data (at most seven,
    the signed-in user included): each list loads what its rows show, and the
    counts ride along in the quarter's query, each stopping at its cap (an
    exact count would read every due touchpoint and every referral that needs
    attention, however many years of them there are).
    """
    if not current_user.is_authenticated:
        # First run: nobody can sign in yet, so offer to create the account.
        if not any_user_exists():
            return redirect(url_for("auth.setup"))
        return login_manager.unauthorized()

    user = current_user._get_current_object()
    today, now = date.today(), utcnow()

    due_where = (
        Touchpoint.user_id == user.id,
        Touchpoint.state == TouchpointState.PLANNED,
        Touchpoint.due_on <= today,
    )
    due = db.session.execute(
        sa.select(Touchpoint.id, Touchpoint.due_on, Contact.id.label("contact_id"), Contact.name)
        .join(Contact, Touchpoint.contact_id == Contact.id)
        .where(*due_where)
        .order_by(Touchpoint.due_on, Touchpoint.id)
        .limit(HOME_LIST_SIZE)
    ).all()

    upcoming = []
    if not due:
        upcoming = db.session.execute(
            sa.select(Touchpoint.id, Touchpoint.due_on, Contact.name)
            .join(Contact, Touchpoint.contact_id == Contact.id)
            .where(
                Touchpoint.user_id == user.id,
                Touchpoint.state == TouchpointState.PLANNED,
                Touchpoint.due_on > today,
            )
            .order_by(Touchpoint.due_on, Touchpoint.id)
            .limit(3)
        ).all()

    answers = _new_answers(user, now)
    attention = _needs_attention(user, now)
    attention_where = (Referral.user_id == user.id, needs_attention(user, now))
    quarter, (due_count, attention_count) = _quarter_numbers(
        user,
        today,
        capped_count(sa.select(Touchpoint.id).where(*due_where)),
        capped_count(sa.select(Referral.id).where(*attention_where), ATTENTION_COUNT_CAP),
    )

    has_contacts = (
        bool(due or upcoming or answers or attention or quarter.received)
        or db.session.scalar(
            sa.select(sa.func.count()).select_from(Contact).where(Contact.user_id == user.id)
        )
        > 0
    )
    return render_template(
        "main/index.html",
        today=today,
        due=due,
        due_count=due_count,
        count_cap=helpers.COUNT_CAP,
        attention_count_cap=ATTENTION_COUNT_CAP,
        upcoming=upcoming,
        answers=answers,
        new_answer_days=NEW_ANSWER_DAYS,
        attention=attention,
        attention_count=attention_count,
        quarter=quarter,
        has_contacts=has_contacts,
    )


def _new_answers(user: User, now: datetime) -> list:
    """Answers to touchpoint links in the last two weeks: who, when, how many people.

    One row per touchpoint, from the referrals themselves, so a referrer who came
    back to the same link to add someone counts as a new answer too.
    """
    since = now - timedelta(days=NEW_ANSWER_DAYS)
    return db.session.execute(
        sa.select(
            Referral.touchpoint_id,
            Contact.id.label("contact_id"),
            Contact.name.label("contact_name"),
            sa.func.count().label("people"),
            sa.func.max(Referral.created_at).label("answered_at"),
        )
        .join(Contact, Referral.contact_id == Contact.id)
        .where(
            Referral.user_id == user.id,
            Referral.created_at >= since,
            Referral.touchpoint_id.is_not(None),
        )
        .group_by(Referral.touchpoint_id, Contact.id, Contact.name)
        .order_by(sa.func.max(Referral.created_at).desc(), Referral.touchpoint_id.desc())
        .limit(HOME_LIST_SIZE)
    ).all()


@dataclass(frozen=True)
class AttentionItem:
    referral: Referral
    referrer_name: str
    reasons: list[str]


def _needs_attention(user: User, now: datetime) -> list[AttentionItem]:
    """The first few referrals that need the professional, longest waiting first
    (along ix_referral_user_last_step: the first few that match, not all of them)."""
    rows = db.session.execute(
        sa.select(Referral, Contact.name)
        .join(Contact, Referral.contact_id == Contact.id)
        .where(Referral.user_id == user.id, needs_attention(user, now))
        .order_by(Referral.last_step_at, Referral.id)
        .limit(ATTENTION_LIST_SIZE)
    ).all()
    return [
        AttentionItem(referral, name, attention_reasons(referral, user, now))
        for referral, name in rows
    ]


@dataclass(frozen=True)
class Quarter:
    """This calendar quarter's figures."""

    first_day: date
    last_day: date
    received: int  # referrals created in the quarter
    introductions: int  # referrals that left "new" in the quarter
    won: int  # referrals that became clients in the quarter (and still are)
    won_value: Decimal  # the business they brought

    @property
    def label(self) -> str:
        return f"{self.first_day:%B} to {self.last_day:%B %Y}"

    @property
    def won_value_text(self) -> str:
        return money(self.won_value)


def quarter_bounds(today: date) -> tuple[date, date]:
    """The first day of today's calendar quarter and the first day of the next one."""
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = date(today.year, first_month, 1)
    end = date(today.year + 1, 1, 1) if first_month == 10 else date(today.year, first_month + 3, 1)
    return start, end


def _quarter_numbers(user: User, today: date, *counts) -> tuple[Quarter, list[int]]:
    """The quarter's four figures in one query, with ``counts`` (scalar subqueries)
    in the same query."""
    start_day, end_day = quarter_bounds(today)
    start = datetime.combine(start_day, datetime.min.time(), UTC)
    end = datetime.combine(end_day, datetime.min.time(), UTC)

    def steps(*where):
        # The pipeline's steps in the quarter (ix_referral_event_user_kind_created).
        return (
            ReferralEvent.user_id == user.id,
            ReferralEvent.kind == EventKind.STATUS,
            ReferralEvent.created_at >= start,
            ReferralEvent.created_at < end,
            *where,
        )

    received = (
        sa.select(sa.func.count())
        .select_from(Referral)
        .where(Referral.user_id == user.id, Referral.created_at >= start, Referral.created_at < end)
    )
    introductions = sa.select(sa.func.count(sa.distinct(ReferralEvent.referral_id))).where(
        *steps(ReferralEvent.from_status == ReferralStatus.NEW)
    )
    # Won in the quarter and still won (a client who later left is not counted).
    won_where = (
        Referral.user_id == user.id,
        Referral.status == ReferralStatus.WON,
        Referral.id.in_(
            sa.select(ReferralEvent.referral_id).where(
                *steps(ReferralEvent.to_status == ReferralStatus.WON)
            )
        ),
    )
    # How many were won and their value from one reading of the won referrals (two
    # scalar subqueries would read them twice: the costliest part of the page).
    won = (
        sa.select(
            sa.func.count().label("won"),
            sa.func.coalesce(sa.func.sum(Referral.value_won), 0).label("value"),
        )
        .where(*won_where)
        .subquery()
    )
    row = db.session.execute(
        sa.select(
            received.scalar_subquery(),
            introductions.scalar_subquery(),
            won.c.won,
            won.c.value,
            *counts,
        ).select_from(won)
    ).one()
    quarter = Quarter(
        first_day=start_day,
        last_day=end_day - timedelta(days=1),
        received=row[0] or 0,
        introductions=row[1] or 0,
        won=row[2] or 0,
        won_value=Decimal(str(row[3] or 0)).quantize(Decimal("0.01")),
    )
    return quarter, list(row[4:])


def money(value: Decimal | int | None) -> str:
    """An amount as people write it: 12,500 (or 12,500.50 when there are cents)."""
    value = Decimal(value or 0)
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """The professional's name, what referrers can say, and the defaults for the ask."""
    user = current_user._get_current_object()
    form = SettingsForm(obj=user)
    if form.validate_on_submit():
        form.populate_obj(user)
        db.session.commit()
        flash("Your settings are saved.", "success")
        return redirect(url_for("main.settings"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("main/settings.html", form=form), status


@bp.route("/settings/wording", methods=["GET", "POST"])
@login_required
def wording():
    """The ask's framing, one line and a note, for each kind of source.

    Every kind is on one form and saved in one commit. A framing left as the
    default (or emptied) is stored empty, so it keeps following the default; a
    line or note left empty uses the professional's general one.
    """
    user = current_user._get_current_object()
    defaults = {kind: ASK_FRAMING[kind].format(pro=first_name(user)) for kind in ContactKind}
    saved = _kind_wordings(user)
    form = WordingForm(data=_wording_data(saved, defaults))
    if form.validate_on_submit():
        try:
            _save_wording(user, form, defaults)
            db.session.commit()
        except IntegrityError:
            # Another tab saved a kind's first words at the same moment: save over them.
            db.session.rollback()
            _save_wording(user, form, defaults)
            db.session.commit()
        flash("Your words for each kind of source are saved.", "success")
        return redirect(url_for("main.wording"), 303)
    status = 422 if form.is_submitted() else 200
    problems = [
        (sub[name].id, kind.label, sub[name].label.text, errors[0])
        for kind, sub in form.kinds()
        for name, errors in sub.errors.items()
    ]
    return render_template(
        "main/wording.html",
        form=form,
        defaults=defaults,
        uses=_what_each_kind_uses(saved),
        notes=KIND_WORDING_NOTES,
        problems=problems,
        ask=the_ask(user.ask_count, first_name(user)),
    ), status


def _kind_wordings(user: User) -> dict[ContactKind, KindWording]:
    rows = db.session.scalars(sa.select(KindWording).where(KindWording.user_id == user.id))
    return {row.kind: row for row in rows}


def _wording_data(saved: dict[ContactKind, KindWording], defaults: dict) -> dict:
    """What each fieldset shows: the framing in use (default or theirs), and their overrides."""
    data = {}
    for kind in ContactKind:
        row = saved.get(kind)
        data[kind.value] = {
            "ask_framing": (row.ask_framing.strip() if row else "") or defaults[kind],
            "value_proposition": row.value_proposition if row else "",
            "blurb": row.blurb if row else "",
        }
    return data


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _save_wording(user: User, form: WordingForm, defaults: dict) -> None:
    """Write every kind's words; a kind gets its row the first time it has any."""
    saved = _kind_wordings(user)
    for kind, sub in form.kinds():
        framing = sub.ask_framing.data or ""
        if _same_words(framing, defaults[kind]):
            framing = ""  # the default, untouched: keep following it
        line = sub.value_proposition.data or ""
        if _same_words(line, user.value_proposition or ""):
            line = ""
        blurb = sub.blurb.data or ""
        if _same_words(blurb, user.blurb or ""):
            blurb = ""
        row = saved.get(kind)
        if row is None:
            if not (framing or line or blurb):
                continue
            row = KindWording(user_id=user.id, kind=kind)
            db.session.add(row)
        row.ask_framing, row.value_proposition, row.blurb = framing, line, blurb


def _what_each_kind_uses(saved: dict[ContactKind, KindWording]) -> dict:
    """Per kind: whether the framing, the line and the note are the professional's own."""
    uses = {}
    for kind in ContactKind:
        row = saved.get(kind)
        uses[kind] = {
            "framing": bool(row and row.ask_framing.strip()),
            "line": bool(row and row.value_proposition.strip()),
            "blurb": bool(row and row.blurb.strip()),
        }
    return uses
