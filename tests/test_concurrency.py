"""Many referrers at once: concurrent writers queue for the lock instead of failing.

A real threaded server and real HTTP clients, each with its own cookies: on
SQLite this is what BEGIN IMMEDIATE and the busy timeout are for.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar

import sqlalchemy as sa
from werkzeug.serving import make_server

from app.extensions import db
from app.models import OutboundEmail, Referral
from app.tokens import client_link_token
from tests.factories import make_contact, make_touchpoint, make_user

REFERRERS = 12


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def answer_the_form(url: str, n: int) -> int:
    """One referrer's browser: open the link, send one person; the POST's status."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
    )
    page = opener.open(url, timeout=30).read().decode()
    fields = {
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
        "submission_key": re.search(r'name="submission_key"[^>]*value="([^"]+)"', page).group(1),
        "people-0-name": f"Person {n}",
        "people-0-email": f"person{n}@example.org",
        "people-0-intro_method": "mention_referrer",
        "people-0-consent": "y",
        "update_preference": "every_step",
        "action": "submit",
    }
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode())
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as error:  # the 303 arrives as an "error" without redirects
        return error.code


def test_simultaneous_submissions_all_succeed_and_each_is_saved_once(app):
    with app.app_context():
        user = make_user()
        links = [
            client_link_token(make_touchpoint(make_contact(user))) for _ in range(REFERRERS)
        ]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/r/"
    try:
        with ThreadPoolExecutor(max_workers=REFERRERS) as pool:
            statuses = list(pool.map(answer_the_form, [base + t for t in links], range(REFERRERS)))
    finally:
        server.shutdown()
        thread.join(timeout=5)

    assert statuses == [303] * REFERRERS
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == REFERRERS
        # A thank-you to each referrer and a notice to the professional for each answer.
        emails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
        assert emails == 2 * REFERRERS
