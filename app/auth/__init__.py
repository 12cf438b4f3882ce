from flask import Blueprint, Response, flash, redirect, request
from flask_login import login_url

from ..extensions import db, login_manager
from ..helpers import is_htmx
from ..models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's session lookup."""
    return db.session.get(User, int(user_id))


@login_manager.unauthorized_handler
def unauthorized():
    """Send a signed-out visitor to the sign-in page, and back here afterwards.

    An htmx request (say an active search after the session ended) would
    otherwise swap the whole sign-in page into a fragment's place, so htmx is
    told to navigate instead, back to the page the visitor was on.
    """
    flash(login_manager.login_message, login_manager.login_message_category)
    if is_htmx():
        page = request.headers.get("HX-Current-URL") or request.url
        target = login_url(login_manager.login_view, next_url=page)
        return Response(status=401, headers={"HX-Redirect": target, "Vary": "HX-Request"})
    return redirect(login_url(login_manager.login_view, next_url=request.url))


from . import routes  # noqa: E402, F401
