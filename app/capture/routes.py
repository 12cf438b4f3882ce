"""The referrer's side: the signed link and its form. (stub: to be built)"""

from . import bp


@bp.route("/<token>")
def form(token):
    """Stub."""
    return "form"
