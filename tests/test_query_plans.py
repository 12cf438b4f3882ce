"""Queries read along the index meant for them, whatever else the data holds.

One contact's referrals are read along that contact's index, not the professional's.

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
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import EventKind, OutboundEmail, ReferralEvent, UpdatePreference
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


def query_plan(app, statement: str, parameters=()) -> list[str]:
    """SQLite's plan for a recorded statement, with the parameters it ran with: a
    line per step, as EXPLAIN QUERY PLAN words it."""
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            return [
                row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
        finally:
            connection.close()


def referral_searches(app, statements) -> list[str]:
    """How SQLite reads referral in each statement that asks for one contact's."""
    return [
        line
        for statement, parameters in statements
        if ONE_CONTACT.search(statement)
        for line in query_plan(app, statement, parameters)
        if re.search(r"\breferral\b", line)
    ]


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


# Gathering a referrer's updates into one email finds the email by its batch key,
# then the events it carries by email_id: both along partial indexes, which leave
# out the rows without one (every email but these updates, every event but those
# told), so a referrer's submission writes no entry in either.
PARTIAL_LOOKUPS = {
    "outbound_email.batch_key = ": ("outbound_email", "ix_outbound_email_batch_state"),
    "referral_event.email_id = ": ("referral_event", "ix_referral_event_email_id"),
}


def test_a_referrers_update_finds_its_email_and_events_along_the_partial_indexes(
    app, signed_in, user
):
    ann = make_contact(user, name="Ann Referrer", update_preference=UpdatePreference.EVERY_STEP)
    pat, quinn = make_referral(ann, name="Pat Prospect"), make_referral(ann, name="Quinn Second")

    def post(url, data):
        token = csrf_from(signed_in.get("/referrals/"))
        response = signed_in.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 303, response.get_data(as_text=True)

    with recorded(app) as statements:
        for referral, status in ((pat, "contacted"), (quinn, "meeting_set")):
            post(f"/referrals/{referral.id}/status", {"status": status})
            step = db.session.scalar(
                sa.select(ReferralEvent.id).where(
                    ReferralEvent.referral_id == referral.id, ReferralEvent.kind == EventKind.STATUS
                )
            )
            post(f"/referrals/{referral.id}/events/{step}/tell", {"message": "News"})
    # Both news went out in one email: the second found the first's by its key.
    email = db.session.scalars(sa.select(OutboundEmail)).one()
    assert "2 people" in email.subject

    for lookup, (table, index) in PARTIAL_LOOKUPS.items():
        # PRAGMA index_list: (seq, name, unique, origin, partial)
        listed = db.session.execute(sa.text(f"PRAGMA index_list({table})"))
        partial = {row[1]: row[4] for row in listed}
        assert partial[index] == 1, f"{index} holds every row of {table}"
        plans = [
            " / ".join(query_plan(app, statement, parameters))
            for statement, parameters in statements
            if lookup in statement
        ]
        assert plans, f"no statement looked up {lookup!r}"
        for plan in plans:
            assert f"USING INDEX {index} (" in plan, plan


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("", "ix_referral_user_created"),
        ("status=contacted", "ix_referral_user_status_created"),
        ("sort=quiet", "ix_referral_user_last_step"),
    ],
)
def test_a_later_page_of_the_pipeline_skips_rows_along_an_index_alone(
    app, signed_in, user, query, index
):
    """The rows before the page are passed over in an index (the page's ids), never
    read from the table with their referrer joined; only the page's rows are."""
    app.config["PER_PAGE"] = 2
    contact = make_contact(user, name="Maya Okafor")
    for n in range(5):
        make_referral(contact, name=f"Person {n}", status="contacted")
    with recorded(app) as statements:
        page = signed_in.get(f"/referrals/?{query}&page=2")
        assert page.status_code == 200
        assert page.get_data(as_text=True).count('<h2><a href="/referrals/') == 2
    listed = [(s, p) for s, p in statements if "JOIN contact" in s and "LIMIT" in s]
    assert len(listed) == 1, statements
    plan = query_plan(app, *listed[0])
    assert f"SEARCH referral USING COVERING INDEX {index} (user_id=?" in " / ".join(plan), plan
    assert "SEARCH referral USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert not any(line.startswith("SCAN referral") for line in plan), plan
