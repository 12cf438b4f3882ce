"""The empty person rows of the referrer's form, rendered once per process.

Every form page shows one to three empty rows that differ only in their index,
the link's token (in their htmx URLs) and the professional's first name.
Rendering them through Jinja on every request was a third of the page's cost.
So each kind of row (short or not) and index is rendered once, with markers
where the token and the name go, and a page fills those in: the name escaped,
the token as ``url_for`` writes it. A row that takes the focus, or has values
or errors, is rendered by the template as usual.
"""

from __future__ import annotations

import functools
import re

from flask import render_template, request
from markupsafe import Markup, escape

from .forms import blank_person

# Characters that survive HTML escaping and URL quoting unchanged, so the markers
# come out of url_for and the template exactly as written.
_TOKEN_MARKER = "referloop-link-token-marker"  # noqa: S105 (a placeholder, not a secret)
_PRO_MARKER = "referloop-professional-name-marker"
# What a signed link token is made of (itsdangerous' URL-safe alphabet and dots):
# url_for writes such a token as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


@functools.lru_cache(maxsize=64)
def _rendered(short: bool, index: int, script_root: str) -> str:
    """One empty row with markers for the token and the name (per mount point too,
    since its URLs start with it)."""
    html = render_template(
        "capture/_person.html",
        person=blank_person(index, short),
        index=index,
        token=_TOKEN_MARKER,
        pro=_PRO_MARKER,
        focus=None,
    )
    if html.count(_TOKEN_MARKER) == 0:
        raise RuntimeError("the empty row no longer carries the link's URL: check _person.html")
    return html


def blank_row(index: int, short: bool, token: str, pro: str) -> Markup | None:
    """The HTML of empty row ``index`` for this link and professional, or None when
    the token is not one url_for writes unchanged (the template then renders it)."""
    if not _URL_SAFE.fullmatch(token):
        return None
    html = _rendered(bool(short), index, request.script_root)
    # The template escaped the markers (a no-op); the name is escaped here instead.
    return Markup(html.replace(_TOKEN_MARKER, token).replace(_PRO_MARKER, str(escape(pro))))  # noqa: S704
