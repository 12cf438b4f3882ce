"""The pipeline pages (being built)."""

from flask_login import login_required

from . import bp


@bp.route("/")
@login_required
def index():
    return "Referrals"
