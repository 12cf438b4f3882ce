"""The professional's home page and settings."""

from datetime import date

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..auth.routes import any_user_exists
from ..extensions import db, login_manager
from ..models import Contact, Referral, ReferralStatus, Touchpoint, TouchpointState
from . import bp
from .forms import SettingsForm

HOME_LIST_SIZE = 10


@bp.route("/")
def index():
    """What needs doing today: touchpoints due or overdue, and new referrals."""
    if not current_user.is_authenticated:
        # First run: nobody can sign in yet, so offer to create the account.
        if not any_user_exists():
            return redirect(url_for("auth.setup"))
        return login_manager.unauthorized()

    today = date.today()
    due_where = (
        Touchpoint.user_id == current_user.id,
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
    due_count = _count(Touchpoint, *due_where) if len(due) == HOME_LIST_SIZE else len(due)

    new_where = (Referral.user_id == current_user.id, Referral.status == ReferralStatus.NEW)
    referrals = db.session.execute(
        sa.select(
            Referral.id,
            Referral.name,
            Referral.created_at,
            Contact.id.label("contact_id"),
            Contact.name.label("referrer_name"),
        )
        .join(Contact, Referral.contact_id == Contact.id)
        .where(*new_where)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(HOME_LIST_SIZE)
    ).all()
    new_count = _count(Referral, *new_where) if len(referrals) == HOME_LIST_SIZE else len(referrals)

    upcoming = []
    if not due:
        upcoming = db.session.execute(
            sa.select(Touchpoint.id, Touchpoint.due_on, Contact.name)
            .join(Contact, Touchpoint.contact_id == Contact.id)
            .where(
                Touchpoint.user_id == current_user.id,
                Touchpoint.state == TouchpointState.PLANNED,
                Touchpoint.due_on > today,
            )
            .order_by(Touchpoint.due_on, Touchpoint.id)
            .limit(3)
        ).all()
    has_contacts = (
        bool(due or referrals or upcoming)
        or _count(Contact, Contact.user_id == current_user.id) > 0
    )
    return render_template(
        "main/index.html",
        today=today,
        due=due,
        due_count=due_count,
        upcoming=upcoming,
        referrals=referrals,
        new_count=new_count,
        has_contacts=has_contacts,
    )


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


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
