"""Sign in, sign out, and creating the first account."""

import math
import secrets

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..helpers import is_safe_next
from ..models import User, utcnow
from . import bp
from .forms import LoginForm, SetupForm

BAD_CREDENTIALS = "That email and password do not match an account. Check both and try again."

# A hash of a random password per hashing method, so that an unknown email costs
# the same time as a wrong password and does not reveal which accounts exist.
_decoy_hashes: dict[str, str] = {}


def any_user_exists() -> bool:
    """True once the first account has been created."""
    return db.session.scalar(sa.select(User.id).limit(1)) is not None


def find_user(email: str) -> User | None:
    """The account with this email, whatever its case."""
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))


def _spend_a_password_check(password: str) -> None:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _decoy_hashes:
        _decoy_hashes[method] = generate_password_hash(secrets.token_hex(16), method=method)
    check_password_hash(_decoy_hashes[method], password)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the professional's account on the first run; closed once one exists."""
    if any_user_exists():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        user = User(
            email=form.email.data,
            display_name=form.display_name.data.strip(),
            business_name=form.business_name.data.strip(),
        )
        user.set_password(form.password.data)
        db.session.add(user)
        db.session.commit()
        login_user(user)
        flash(
            f"Welcome to Referloop, {user.name}. Your account is ready: "
            "start by adding a contact who could refer you.",
            "success",
        )
        return redirect(url_for("main.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("auth/setup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in; after too many wrong passwords an account is refused for a while."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    if not any_user_exists():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if request.method == "GET":
        next_page = request.args.get("next")
        form.next.data = next_page if is_safe_next(next_page) else ""
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status

    user = find_user(form.email.data)
    if user is not None and user.is_locked():
        return _refuse_locked(form, user)
    # Hashing takes a good part of a second: end the transaction first, so that on
    # SQLite nobody else's writes wait behind a sign-in attempt.
    password_hash = user.password_hash if user is not None else None
    db.session.rollback()
    if password_hash is None:
        _spend_a_password_check(form.password.data)
        return _refuse_bad_credentials(form)
    if not check_password_hash(password_hash, form.password.data):
        User.record_failed_login(user.id)
        db.session.commit()
        db.session.refresh(user)
        if user.is_locked():
            return _refuse_locked(form, user)
        return _refuse_bad_credentials(form)

    user.record_successful_login()
    db.session.commit()
    login_user(user, remember=form.remember.data)
    target = form.next.data or request.args.get("next")
    return redirect(target if is_safe_next(target) else url_for("main.index"), 303)


def _refuse_bad_credentials(form: LoginForm):
    return render_template("auth/login.html", form=form, problem=BAD_CREDENTIALS), 422


def _refuse_locked(form: LoginForm, user: User):
    seconds = max(1, math.ceil((user.locked_until - utcnow()).total_seconds()))
    minutes = math.ceil(seconds / 60)
    wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
    problem = (
        "Sign-in to this account is paused after too many wrong passwords, "
        f"to keep it safe. Please wait {wait} and try again."
    )
    response = current_app.make_response(
        (render_template("auth/login.html", form=form, problem=problem), 429)
    )
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.post("/logout")
def logout():
    """Sign out."""
    logout_user()
    flash("You are signed out. See you soon.", "info")
    return redirect(url_for("auth.login"), 303)
