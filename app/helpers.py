"""Small helpers shared by the blueprints: htmx, ownership, external links."""

from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from flask import abort, current_app, has_request_context, render_template, request, url_for
from flask_login import current_user

from .extensions import db


def is_htmx() -> bool:
    """An htmx request that wants a fragment.

    Boosted requests want whole pages, and so does htmx restoring a page from
    history (it sends HX-Request too, then swaps the answer into <body>).
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and not headers.get("HX-Boosted")
        and not headers.get("HX-History-Restore-Request")
    )


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """Render the fragment for htmx and the full page otherwise, and say so in Vary."""
    template = fragment if is_htmx() else page
    response = current_app.make_response((render_template(template, **context), status))
    response.vary.add("HX-Request")
    return response


# Beyond these, numbers from a URL cannot be ours (and overflow a 64-bit integer column).
MAX_PAGE = 1_000_000
MAX_ID = 2**63 - 1


def paginate(query):
    """One page of a list query: ``?page=N`` and the PER_PAGE setting, never a 404."""
    page = request.args.get("page", 1, type=int)
    return db.paginate(
        query,
        page=min(max(page, 1), MAX_PAGE),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )


def owned_or_404(model, ident):
    """The current professional's row of ``model`` with this id, or 404.

    Another professional's id is indistinguishable from one that does not exist.
    """
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        abort(404)
    if not 1 <= ident <= MAX_ID:
        abort(404)
    row = db.session.scalar(
        sa.select(model).where(model.id == ident, model.user_id == current_user.id)
    )
    if row is None:
        abort(404)
    return row


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for links that leave the site (emails, copied links).

    BASE_URL wins when set; otherwise a request's own host; otherwise (CLI jobs)
    the development server's address.
    """
    base = current_app.config.get("BASE_URL")
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base or "http://127.0.0.1:5000")
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def is_safe_next(target: str | None) -> bool:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return False
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    )


def mailto(to: str = "", *, subject: str = "", body: str = "") -> str:
    """A mailto: link with subject and body filled in (RFC 6068).

    Everything is percent-encoded as UTF-8 (accents, "&", "?", "#" stay text),
    and line breaks become CRLF, as RFC 6068 asks for bodies.
    """
    fields = []
    if subject:
        fields.append(f"subject={quote(subject, safe='')}")
    if body:
        crlf = "\r\n".join(body.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        fields.append(f"body={quote(crlf, safe='')}")
    address = quote(to.strip(), safe="@")
    return f"mailto:{address}" + (f"?{'&'.join(fields)}" if fields else "")
