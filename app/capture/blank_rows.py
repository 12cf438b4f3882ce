"""The empty parts of the referrer's form, rendered once per process.

Every form page shows one to three empty person rows (on a first showing, the
whole section of them, with its "add" control) and, for a contact with known
connections, a question about each. Empty rows differ only in their
index, the link's token (in their htmx URLs) and the professional's first
name; an unanswered question only in its connection (id, name, what the
professional knows of it), its wording and that name. Rendering them through
Jinja on every request was most of the page's cost.

So each kind of row or question is rendered once, by its own template, with
markers where those values go, and kept cut at the markers; a page puts the
values (escaped) between the pieces, so what it puts in is never searched.
Anything with values, errors or the focus is rendered by the template as usual.
The tests compare both ways of rendering for every kind. When templates reload (debug
mode), nothing is kept, so an edited template shows at once.
"""

from __future__ import annotations

import functools
import re
from types import SimpleNamespace

from flask import current_app, render_template, request
from markupsafe import Markup, escape

from .forms import BlankAsk, NamedAskForm, blank_person

# Markers: letters only, so HTML escaping and URL quoting leave them as they are,
# and none is part of another.
_MARKER = re.compile(r"zq(token|pro|connectionid|connectionname|question|context)qz")
# What a signed link token is made of (itsdangerous' URL-safe alphabet and dots):
# url_for writes such a token as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


def _marker(name: str) -> str:
    return f"zq{name}qz"


def _kept(render):
    """``render``, its HTML kept for the life of the process (cut at the markers:
    the text between them, then each marker's name in turn) unless templates reload."""

    def pieces(*args) -> tuple[str, ...]:
        return tuple(_MARKER.split(render(*args)))

    kept = functools.lru_cache(maxsize=64)(pieces)

    @functools.wraps(render)
    def rendered(*args) -> tuple[str, ...]:
        return pieces(*args) if current_app.jinja_env.auto_reload else kept(*args)

    return rendered


def _fill(pieces: tuple[str, ...], values: dict[str, str]) -> Markup:
    """The kept HTML with each marker replaced by its (already safe) value."""
    filled = list(pieces)
    filled[1::2] = [values[name] for name in pieces[1::2]]
    return Markup("".join(filled))  # noqa: S704


@_kept
def _person(short: bool, index: int, script_root: str) -> str:
    """One empty row (per mount point too, since its URLs start with it)."""
    return render_template(
        "capture/_person.html",
        person=blank_person(index, short),
        index=index,
        token=_marker("token"),
        pro=_marker("pro"),
        focus=None,
    )


def blank_row(index: int, short: bool, token: str, pro: str) -> Markup | None:
    """The HTML of empty row ``index`` for this link and professional, or None when
    the token is not one url_for writes unchanged (the template then renders it)."""
    if not _URL_SAFE.fullmatch(token):
        return None
    html = _person(bool(short), index, request.script_root)
    return _fill(html, {"token": token, "pro": str(escape(pro))})


@_kept
def _people(short: bool, rows: int, max_people: int, script_root: str) -> str:
    """The whole people section of a first showing: ``rows`` empty rows and the
    control that adds one more."""
    return render_template(
        "capture/_people.html",
        people=[blank_person(index, short) for index in range(rows)],
        token=_marker("token"),
        pro=_marker("pro"),
        focus=None,
        max_people=max_people,
    )


def blank_people(rows: int, short: bool, token: str, pro: str, max_people: int) -> Markup | None:
    """The HTML of the people section with ``rows`` empty rows for this link and
    professional, or None when the template must render it (see ``blank_row``)."""
    if not _URL_SAFE.fullmatch(token):
        return None
    html = _people(bool(short), rows, max_people, request.script_root)
    return _fill(html, {"token": token, "pro": str(escape(pro))})


@_kept
def _question(short: bool, with_context: bool) -> str:
    """One unanswered question; ``with_context``: the professional noted how the
    referrer knows the person (a hint, and the question points to it)."""
    connection = SimpleNamespace(
        id=_marker("connectionid"),
        name=_marker("connectionname"),
        organisation="",
        how_known=_marker("context") if with_context else "",
    )
    ask = NamedAskForm(None, connection=connection, professional=_marker("pro"), short=short)
    ask.question = _marker("question")
    return render_template("capture/_named_ask.html", ask=ask, pro=_marker("pro"), short=short)


def blank_ask(ask: BlankAsk, short: bool, pro: str) -> Markup:
    """The HTML of an unanswered question about ``ask.connection``."""
    connection = ask.connection
    html = _question(bool(short), bool(connection.how_known))
    values = {
        "connectionid": str(int(connection.id)),
        "connectionname": str(escape(connection.name)),
        "context": str(escape(connection.how_known)),
        "question": str(escape(ask.question)),
        "pro": str(escape(pro)),
    }
    return _fill(html, values)
