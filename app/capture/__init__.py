"""The referrer's side, at ``/r/<token>``: every page and POST of one signed link.

The link is the referrer's only credential: nothing here reads a session or a
signed-in user. So the CSRF token of these pages is bound to the link itself
(``tokens.link_form_token``) rather than to a session cookie: the pages set no
cookie, and a form left open on a phone still sends once its browser has
dropped its cookies. Every POST is checked here, before its view, in place of
Flask-WTF's session-based check, which this blueprint is exempt from.
"""

from flask import Blueprint, abort, current_app, g, request
from flask_wtf.csrf import CSRFError

from ..extensions import csrf
from ..tokens import is_signed_client_link, link_form_token, link_form_token_matches

bp = Blueprint("capture", __name__)
csrf.exempt(bp)


@bp.before_request
def _link_form_token():
    """Check a POST's token against its link; give the page's forms the link's token
    (``csrf_token()`` in templates, see templating.csrf_token)."""
    link_token = (request.view_args or {}).get("token", "")
    # The methods Flask-WTF checks everywhere else.
    if request.method in current_app.config["WTF_CSRF_METHODS"]:
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRFToken", "")
        if not link_form_token_matches(link_token, sent):
            if not is_signed_client_link(link_token):
                abort(404)  # as a forged link is everywhere, whatever was posted
            raise CSRFError("The form's token is missing or belongs to another link.")
    g.link_form_token = link_form_token(link_token)


from . import drafts  # noqa: E402,F401,I001
from . import routes  # noqa: E402, F401

from .blank_rows import blank_ask, blank_row  # noqa: E402

bp.add_app_template_global(blank_row, "blank_row")
bp.add_app_template_global(blank_ask, "blank_ask")
