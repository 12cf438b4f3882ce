"""Template filters and globals shared by pages and emails."""

import hashlib
import os
from datetime import date

from flask import current_app, g, has_request_context, request, url_for
from flask.templating import Environment as FlaskEnvironment
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape


class Environment(FlaskEnvironment):
    """Flask's Jinja environment, with each template's globals in one plain dict,
    and its compiled templates in another.

    Jinja layers a template's globals over the environment's in a ``ChainMap``,
    which every render copies into a new context key by key, in Python: 16 µs a
    render with our 22 globals, against under 1 µs for a dict. A submitted form
    renders four email bodies, and a page a few imports. The dict is taken when
    the template is loaded, so the globals must all be in place by then, as
    Jinja asks anyway: ``create_app`` registers them before any template loads.

    Jinja keeps compiled templates in an LRU cache whose every hit takes a lock
    and moves the name to the back of a list, searching it from the front: with
    our hundred-odd templates, 2% of a submission. They are a fixed set, all
    compiled before the workers fork (``compile_templates``), so a dict holds
    them all (Jinja's own option, ``cache_size=-1``).
    """

    def __init__(self, app, **options):
        options.setdefault("cache_size", -1)
        super().__init__(app, **options)

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


def asset_url(filename: str) -> str:
    """A static file's URL with a hash of its content, so it can be cached for good.

    The hash changes whenever the file does, so browsers fetch a new version after
    a deploy; security.py marks only such versioned URLs as immutable.
    """
    app = current_app._get_current_object()
    # Every page asks for the same few files: the URL is worked out once per file
    # and mount point (the only part of the request it depends on), and kept on
    # the app. Outside debug mode the files change only with a deploy, which
    # restarts the processes; in debug mode the file's time is part of the key.
    changed = os.path.getmtime(_static_path(app, filename)) if app.debug else 0.0
    key = (filename, changed, request.script_root if has_request_context() else "")
    urls = app.extensions.setdefault("referloop_asset_urls", {})
    url = urls.get(key)
    if url is None:
        with open(_static_path(app, filename), "rb") as file:
            version = hashlib.sha256(file.read()).hexdigest()[:12]
        url = urls[key] = url_for("static", filename=filename, v=version)
    return url


def _static_path(app, filename: str) -> str:
    return os.path.join(app.static_folder, filename)


def day(value: date | None) -> str:
    """A date as people write it: 21 Feb 2027 (no leading zero, any platform)."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y')}"


def paragraphs(text: str | None) -> Markup:
    """Plain text as HTML paragraphs: escaped first, then blank lines and breaks kept."""
    if not text:
        return Markup("")
    blocks = [block for block in str(text).replace("\r\n", "\n").split("\n\n") if block.strip()]
    html = "".join(
        "<p>" + "<br>\n".join(escape(line) for line in block.strip().split("\n")) + "</p>"
        for block in blocks
    )
    return Markup(html)  # noqa: S704 (every piece was escaped above)


def radio_options(field, described=False) -> Markup:
    """A group of radios as plain HTML, each input inside its label: the markup WTForms
    renders, without a field object per option. ``described`` (truthy, e.g. the
    field's errors) points each input at the group's error message.

    A Python function rather than a macro: the referrer's form has dozens of radios
    and is the busiest page, and a macro cost several times more per option.
    """
    field_id, name, data = escape(field.id), escape(field.name), field.data
    described_by = f' aria-describedby="{field_id}-error"' if described else ""
    return Markup(  # noqa: S704 (every value is escaped)
        "".join(
            f'\n<label class="check"><input{described_by}'
            f'{" checked" if choice.value == data else ""} id="{field_id}-{index}" '
            f'name="{name}" type="radio" value="{escape(choice.value)}"> '
            f"<span>{escape(choice.label)}</span></label>"
            for index, choice in enumerate(field.choices)
        )
    )


def csrf_token() -> str:
    """The CSRF token for a page's forms and htmx requests.

    A referrer's page carries its link's token (set by the capture blueprint,
    see capture/__init__.py), which needs no session; every other page carries
    Flask-WTF's, kept in the session.
    """
    return g.get("link_form_token") or generate_csrf()


def compile_templates(app) -> int:
    """Compile every template now; how many there are.

    For gunicorn.conf.py: gunicorn loads the app once and forks its workers from
    it (``preload_app``), so templates compiled there are shared by every worker
    instead of being compiled again, on a visitor's time, by each new one (the
    first form page of a fresh worker took 200 ms, then 37 ms; the next ones 4 ms).
    """
    environment = app.jinja_env
    names = environment.list_templates(extensions=("html", "txt"))
    for name in names:
        environment.get_template(name)
    return len(names)


def register(app) -> None:
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["day"] = day
    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["radio_options"] = radio_options
    # Replaces what Flask-WTF registered (see csrf_token): its global, for macros
    # imported without context, and its context processor, for pages. This one runs
    # after Flask-WTF's, so it wins.
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
