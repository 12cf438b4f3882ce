"""What Referloop sends a referrer, and their right to stop it (one-click unsubscribe)."""

from flask import Blueprint

bp = Blueprint("referrers", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
