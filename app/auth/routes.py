"""Sign in, sign out, and creating the first account. (stub: to be built)"""

from flask import redirect, url_for
from flask_login import logout_user

from . import bp


@bp.route("/login")
def login():
    """Sign in."""
    return "login"


@bp.post("/logout")
def logout():
    """Sign out."""
    logout_user()
    return redirect(url_for("auth.login"), 303)
