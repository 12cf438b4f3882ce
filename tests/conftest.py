"""Shared fixtures: an app per test on a real database, a client, SMTP on loopback.

The database comes from REFERLOOP_TEST_DATABASE_URL when set (CI sets it to a
fresh PostgreSQL database), otherwise a SQLite file in a temporary folder. The
schema is built once per run; every test starts from empty tables.

With REFERLOOP_CI=1 a test that needs a missing service fails instead of
skipping: CI must not skip anything.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from email import message_from_bytes, policy
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa
from flask import g
from werkzeug.serving import make_server

from app import create_app
from app.database import close_reading_connection
from app.extensions import db

IN_CI = os.environ.get("REFERLOOP_CI") == "1"
DATABASE_URL = os.environ.get("REFERLOOP_TEST_DATABASE_URL")


def require(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) when a service or tool a test needs is missing."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> str:
    """An empty instance folder: tests never read a developer's instance/config.py."""
    return str(tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, instance_path) -> str:
    """The test database, with the schema built once for the whole run."""
    url = DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url}, instance_path)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return url


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        # Real scrypt, smaller cost: tests sign in hundreds of times.
        "PASSWORD_HASH_METHOD": "scrypt:16384:8:1",
        "SERVER_NAME": None,
    }


@pytest.fixture
def app_config(database_url) -> dict:
    """Override in a module to change settings for its tests."""
    return base_config(database_url)


@pytest.fixture
def app(app_config, instance_path):
    """A fresh app on empty tables."""
    app = create_app(app_config, instance_path)
    # Requests made while a test holds an app context (the ``ctx`` fixture) reuse
    # it, and with it ``g``, where Flask-Login caches the signed-in user, and the
    # session. In production every request has its own ``g`` and session: start
    # each one with an empty ``g`` and no transaction open here too, before any
    # other hook runs. (Outside a request, SQLite's lock is taken at the first
    # statement, and a test's read would hold it through the request.)
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _fresh_g() -> None:
    close_reading_connection()  # as the previous request's app context would have
    for name in list(vars(g)):
        delattr(g, name)
    db.session.rollback()


def _empty_tables() -> None:
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An app context for building data with the factories."""
    with app.app_context():
        yield


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(response) -> str:
    """The CSRF token a page carries, as a browser would send it back."""
    return csrf_from_html(response.get_data(as_text=True))


def csrf_from_html(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """GET ``page`` (default ``url``) like a browser, then POST ``data`` with its CSRF token."""
    token = csrf_from(client.get(page or url))
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


class Auth:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def login(self, email: str = "pro@example.com", password: str = "correct horse battery"):
        return post_form(self.client, "/login", {"email": email, "password": password})

    def logout(self):
        return post_form(self.client, "/logout", {}, page="/")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def user(ctx):
    """A professional who can sign in as pro@example.com / correct horse battery."""
    from tests.factories import make_user

    return make_user()


@pytest.fixture
def signed_in(client, auth, user):
    """A client signed in as ``user``."""
    response = auth.login()
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    return client


class SMTPRecorder:
    """aiosmtpd handler keeping every message it receives, parsed."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.fail_next = 0  # answer this many DATA commands with a 451

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback; ``.port``, ``.handler.messages``."""
    from aiosmtpd.controller import Controller

    # Controller(port=0) fails its own start-up check, so pick a free port first.
    handler = SMTPRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp_config(smtp_server) -> dict:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "MAIL_DEFAULT_SENDER": "Referloop <no-reply@referloop.test>",
        "OUTBOX_RETRY_BASE_SECONDS": 0,
    }


def count_rows(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@contextmanager
def serving(app):
    """The app on a threaded werkzeug server on loopback; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpBrowser:
    """A real HTTP client with its own cookies, for tests that need many at once."""

    def __init__(self):
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def get(self, url: str) -> str:
        return self._opener.open(url, timeout=30).read().decode()

    def post(self, url: str, fields: dict) -> int:
        """POST a form; the status code (redirects are not followed)."""
        data = urllib.parse.urlencode(fields).encode()
        try:
            return self._opener.open(urllib.request.Request(url, data=data), timeout=30).status
        except urllib.error.HTTPError as error:  # 3xx and 4xx arrive as errors here
            return error.code
