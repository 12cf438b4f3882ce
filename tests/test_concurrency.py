"""Many referrers at once: concurrent writers queue for the lock instead of failing.

A real threaded server and real HTTP clients, each with its own cookies: on
SQLite this is what BEGIN IMMEDIATE and the busy timeout are for.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from app.extensions import db
from app.models import OutboundEmail, Referral
from app.tokens import client_link_token
from tests.conftest import HttpBrowser, serving
from tests.factories import make_contact, make_touchpoint, make_user

REFERRERS = 12


def answer_the_form(url: str, n: int) -> int:
    """One referrer's browser: open the link, send one person; the POST's status."""
    browser = HttpBrowser()
    page = browser.get(url)
    return browser.post(
        url,
        {
            "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
            "submission_key": re.search(r'name="submission_key"[^>]*value="([^"]+)"', page).group(
                1
            ),
            "people-0-name": f"Person {n}",
            "people-0-email": f"person{n}@example.org",
            "people-0-intro_method": "mention_referrer",
            "people-0-consent": "y",
            "update_preference": "every_step",
            "action": "submit",
        },
    )


def test_simultaneous_submissions_all_succeed_and_each_is_saved_once(app):
    with app.app_context():
        user = make_user()
        links = [client_link_token(make_touchpoint(make_contact(user))) for _ in range(REFERRERS)]
    with serving(app) as base, ThreadPoolExecutor(max_workers=REFERRERS) as pool:
        urls = [f"{base}/r/{token}" for token in links]
        statuses = list(pool.map(answer_the_form, urls, range(REFERRERS)))

    assert statuses == [303] * REFERRERS
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == REFERRERS
        # A thank-you to each referrer and a notice to the professional for each answer.
        emails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
        assert emails == 2 * REFERRERS
