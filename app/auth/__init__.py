from flask import Blueprint

from ..extensions import db, login_manager
from ..models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's session lookup."""
    return db.session.get(User, int(user_id))


from . import routes  # noqa: E402, F401
