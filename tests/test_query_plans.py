"""One contact's referrals are read along that contact's index, not the professional's.

SQLite keeps no statistics here, so it chooses an index by its shape alone. A
query for one contact's referrals that also checks the professional could walk
the professional's index through every referral they have, and the pages that
run it slow down as the professional's history grows. These tests record the
statements real requests run and ask SQLite how it reads each one, with the
parameters the request used.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db
from app.tokens import client_link_token
from tests.conftest import csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint

# "referral.contact_id = ?" or "= contact.id" or "= :contact_id": a contact's referrals.
ONE_CONTACT = re.compile(r"\breferral\.contact_id = ")
CONTACT_INDEX = "ix_referral_contact_user_created"


@pytest.fixture(autouse=True)
def _sqlite_only(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's planner, which has no statistics; the benchmark measures both")


@contextmanager
def recorded(app):
    """The (statement, parameters) of every SELECT run inside the block."""
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def referral_searches(app, statements) -> list[str]:
    """How SQLite reads referral in each statement that asks for one contact's."""
    lines = []
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            for statement, parameters in statements:
                if not ONE_CONTACT.search(statement):
                    continue
                plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                lines += [row[3] for row in plan if re.search(r"\breferral\b", row[3])]
        finally:
            connection.close()
    return lines


def assert_by_contact(lines: list[str]) -> None:
    """Along the contact's index (or a referral's primary key), never a wider read."""
    by_contact = [line for line in lines if f"{CONTACT_INDEX} (contact_id=?" in line]
    assert by_contact, lines
    for line in lines:
        assert line in by_contact or "INTEGER PRIMARY KEY (rowid=?)" in line, line


@pytest.fixture
def history(user):
    """A client with a referral among others' referrals, and a link to answer."""
    others = make_contact(user, name="Other Client")
    for _ in range(3):
        make_referral(others)
    client = make_contact(user, name="Maya Okafor")
    make_referral(client, name="Sam Patel")
    return client, make_touchpoint(client)


def test_the_referrers_form_reads_their_referrals_by_contact(app, client, history):
    contact, touchpoint = history
    with app.app_context():
        url = f"/r/{client_link_token(touchpoint)}"
    with recorded(app) as statements:
        page = client.get(url)
        assert page.status_code == 200
        sent = client.post(
            url,
            data={
                "csrf_token": csrf_from(page),
                "submission_key": "q" * 32,
                "update_preference": "every_step",
                "people-0-name": "Lee Wong",
                "people-0-email": "lee@wong.example",
                "people-0-need": "Asked about payroll",
                "people-0-intro_method": "mention_referrer",
                "people-0-consent": "y",
            },
        )
        assert sent.status_code == 303, sent.get_data(as_text=True)
    assert_by_contact(referral_searches(app, statements))


def test_the_contact_page_reads_its_referrals_by_contact(app, signed_in, history):
    contact, _ = history
    with recorded(app) as statements:
        page = signed_in.get(f"/contacts/{contact.id}")
        assert page.status_code == 200
        assert "Sam Patel" in page.get_data(as_text=True)
    assert_by_contact(referral_searches(app, statements))


@pytest.mark.parametrize("sort", ["newest", "oldest", "quiet", "name"])
def test_the_pipeline_for_one_referrer_reads_by_contact_in_every_order(
    app, signed_in, history, sort
):
    contact, _ = history
    with recorded(app) as statements:
        page = signed_in.get(f"/referrals/?referrer={contact.id}&status=new&sort={sort}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Sam Patel" in html and "Referred Person" not in html
    assert_by_contact(referral_searches(app, statements))
