"""The professional's home page and settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..auth.routes import any_user_exists
from ..extensions import db, login_manager
from ..models import (
    Contact,
    EventKind,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    User,
    utcnow,
)
from ..referrals.queries import attention_reasons, needs_attention
from . import bp
from .forms import SettingsForm

HOME_LIST_SIZE = 10
# Answers this recent are "new".
NEW_ANSWER_DAYS = 14
# How many referrals that need attention the home page lists (the count covers all).
ATTENTION_LIST_SIZE = 5


@bp.route("/")
def index():
    """What needs doing: touchpoints due, new answers, referrals needing attention, the quarter.

    A constant number of queries whatever the amount of data (at most seven,
    the signed-in user included): each list loads what its rows show, and
    counts ride along as window functions.
    """
    if not current_user.is_authenticated:
        # First run: nobody can sign in yet, so offer to create the account.
        if not any_user_exists():
            return redirect(url_for("auth.setup"))
        return login_manager.unauthorized()

    user = current_user._get_current_object()
    today, now = date.today(), utcnow()

    due = db.session.execute(
        sa.select(
            Touchpoint.id,
            Touchpoint.due_on,
            Contact.id.label("contact_id"),
            Contact.name,
            sa.func.count().over().label("total"),
        )
        .join(Contact, Touchpoint.contact_id == Contact.id)
        .where(
            Touchpoint.user_id == user.id,
            Touchpoint.state == TouchpointState.PLANNED,
            Touchpoint.due_on <= today,
        )
        .order_by(Touchpoint.due_on, Touchpoint.id)
        .limit(HOME_LIST_SIZE)
    ).all()
    due_count = due[0].total if due else 0

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
    attention, attention_count = _needs_attention(user, now)
    quarter = _quarter_numbers(user, today)

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


def _needs_attention(user: User, now: datetime) -> tuple[list[AttentionItem], int]:
    """The first few referrals that need the professional (longest waiting first), and how many."""
    rows = db.session.execute(
        sa.select(Referral, Contact.name, sa.func.count().over())
        .join(Contact, Referral.contact_id == Contact.id)
        .where(Referral.user_id == user.id, needs_attention(user, now))
        .order_by(Referral.last_step_at, Referral.id)
        .limit(ATTENTION_LIST_SIZE)
    ).all()
    items = [
        AttentionItem(referral, name, attention_reasons(referral, user, now))
        for referral, name, _ in rows
    ]
    return items, (rows[0][2] if rows else 0)


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


def _quarter_numbers(user: User, today: date) -> Quarter:
    """The quarter's four figures in one query (four scalar subqueries)."""
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
    won = sa.select(sa.func.count()).select_from(Referral).where(*won_where)
    won_value = sa.select(sa.func.coalesce(sa.func.sum(Referral.value_won), 0)).where(*won_where)
    row = db.session.execute(
        sa.select(
            received.scalar_subquery(),
            introductions.scalar_subquery(),
            won.scalar_subquery(),
            won_value.scalar_subquery(),
        )
    ).one()
    return Quarter(
        first_day=start_day,
        last_day=end_day - timedelta(days=1),
        received=row[0] or 0,
        introductions=row[1] or 0,
        won=row[2] or 0,
        won_value=Decimal(str(row[3] or 0)).quantize(Decimal("0.01")),
    )


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
