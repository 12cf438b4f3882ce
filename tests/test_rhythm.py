"""The rhythm: after a touchpoint is answered, or its date has passed, the next one is planned.

Answers go through the referrer's real form over HTTP; the "date passed" side
through ``plan_due_rhythm`` and the real ``touchpoints send-due`` command. The
contact form's rhythm choice is tested at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Contact, Touchpoint, TouchpointState, User
from app.tokens import client_link_token
from app.touchpoints.planning import plan_after_answer, plan_due_rhythm
from tests.conftest import count_rows, csrf_from, post_form
from tests.factories import days_ago, make_contact, make_touchpoint, make_user

TODAY = date.today()
SUBMISSION_KEY = re.compile(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"')


def settled():
    """End the test's own transaction so the app can take the SQLite write lock."""
    db.session.rollback()


def answer(client, touchpoint: Touchpoint, name: str = "Pat Person") -> None:
    """The referrer opens their link and names one person, as a browser does."""
    settled()
    url = f"/r/{client_link_token(touchpoint)}"
    page = client.get(url)
    assert page.status_code == 200
    key = SUBMISSION_KEY.search(page.get_data(as_text=True)).group(1)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_from(page),
            "submission_key": key,
            "people-0-name": name,
            "people-0-email": "pat@example.org",
            "people-0-intro_method": "mention_referrer",
            "people-0-consent": "y",
            "update_preference": "every_step",
            "action": "submit",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    settled()


@contextmanager
def statements_run() -> Iterator[list[str]]:
    """The SQL statements run meanwhile, upper-cased."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.lstrip().upper())

    sa.event.listen(db.engine, "after_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", record)


def planned_for(contact_id: int) -> list[Touchpoint]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Touchpoint)
            .where(
                Touchpoint.contact_id == contact_id,
                Touchpoint.state == TouchpointState.PLANNED,
            )
            .order_by(Touchpoint.id)
        )
    )


def sent_touchpoint(contact: Contact, **fields) -> Touchpoint:
    touchpoint = make_touchpoint(contact, **fields)
    touchpoint.mark_sent()
    db.session.commit()
    return touchpoint


@pytest.fixture
def contact(user):
    return make_contact(user, name="Jamie Client", email="jamie@example.net")


# When a touchpoint is answered


def test_an_answer_plans_the_next_touchpoint_after_the_rhythm(client, user, contact):
    user.ask_count = 3
    db.session.commit()
    touchpoint = sent_touchpoint(contact, due_on=days_ago(5), ask_count=2, auto_send=True)

    answer(client, touchpoint)

    (planned,) = planned_for(contact.id)
    assert planned.due_on == TODAY + timedelta(days=91)  # the professional's default
    assert planned.ask_count == 3  # the professional's ask, not the last touchpoint's
    assert planned.auto_send is True  # carried over from the touchpoint before
    assert planned.from_delivery is False
    assert planned.message == planned.default_message()
    assert "Who are the 3 people" in planned.message
    assert db.session.get(Touchpoint, touchpoint.id).state == TouchpointState.ANSWERED


def test_the_contacts_own_rhythm_wins(client, contact):
    contact.rhythm_days = 30
    db.session.commit()
    touchpoint = sent_touchpoint(contact)

    answer(client, touchpoint)

    (planned,) = planned_for(contact.id)
    assert planned.due_on == TODAY + timedelta(days=30)
    assert planned.auto_send is False


def test_no_regular_touchpoints_for_this_contact_plans_nothing(client, contact):
    contact.rhythm_days = 0
    db.session.commit()
    touchpoint = sent_touchpoint(contact)

    answer(client, touchpoint)

    assert planned_for(contact.id) == []
    assert count_rows(Touchpoint) == 1


def test_a_professional_without_a_rhythm_gets_none_planned(client, user, contact):
    user.rhythm_days = None
    db.session.commit()
    touchpoint = sent_touchpoint(contact)

    answer(client, touchpoint)

    assert planned_for(contact.id) == []


def test_a_contact_with_a_planned_touchpoint_gets_no_second(client, contact):
    touchpoint = sent_touchpoint(contact)
    already = make_touchpoint(contact, due_on=TODAY + timedelta(days=20))

    answer(client, touchpoint)

    assert [t.id for t in planned_for(contact.id)] == [already.id]


def test_an_answer_that_plans_the_next_one_settles_the_rhythm_in_the_same_update(
    client, user, contact
):
    """The answer's one UPDATE clears the rhythm's mark when the next touchpoint was
    planned; with nothing planned (no rhythm), the mark stays for send-due."""
    touchpoint = sent_touchpoint(contact)
    quiet = make_contact(user, name="Quinn Quiet", email="quinn@example.net", rhythm_days=0)
    unplanned = sent_touchpoint(quiet)
    with statements_run() as statements:
        answer(client, touchpoint)
    answer(client, unplanned)

    assert len(planned_for(contact.id)) == 1 and planned_for(quiet.id) == []
    answered = db.session.get(Touchpoint, touchpoint.id)
    assert answered.state == TouchpointState.ANSWERED and not answered.rhythm_pending
    left = db.session.get(Touchpoint, unplanned.id)
    assert left.state == TouchpointState.ANSWERED and left.rhythm_pending
    # Besides the first opening's, one UPDATE: it answers and settles at once.
    (settling,) = [s for s in statements if s.startswith("UPDATE") and "RHYTHM_PENDING" in s]
    assert "ANSWERED_AT" in settling


def test_answering_again_plans_nothing_more(client, contact):
    touchpoint = sent_touchpoint(contact)
    answer(client, touchpoint, "Pat Person")
    (planned,) = planned_for(contact.id)

    answer(client, touchpoint, "Sam Second")

    assert [t.id for t in planned_for(contact.id)] == [planned.id]


def test_an_old_touchpoint_answered_late_leaves_the_rhythm_alone(ctx, contact):
    """The rhythm follows the latest touchpoint; an answer to an older one changes nothing."""
    old = sent_touchpoint(contact, due_on=days_ago(100))
    sent_touchpoint(contact, due_on=days_ago(9))

    assert plan_after_answer(old) is None
    assert planned_for(contact.id) == []


# When a sent touchpoint's date has passed


def test_a_passed_date_plans_the_next_one_from_that_date(ctx, contact):
    sent_touchpoint(contact, due_on=days_ago(10), auto_send=True)

    assert plan_due_rhythm(TODAY) == 1

    (planned,) = planned_for(contact.id)
    assert planned.due_on == days_ago(10) + timedelta(days=91)
    assert planned.auto_send is True


def test_a_rhythm_already_run_out_plans_for_today(ctx, contact):
    sent_touchpoint(contact, due_on=days_ago(200))

    plan_due_rhythm(TODAY)

    assert [t.due_on for t in planned_for(contact.id)] == [TODAY]


def test_planning_for_passed_dates_is_idempotent(ctx, user):
    contacts = [make_contact(user) for _ in range(5)]
    for contact in contacts:
        sent_touchpoint(contact, due_on=days_ago(3))

    assert plan_due_rhythm(TODAY, size=2) == 5  # in batches of two
    assert plan_due_rhythm(TODAY, size=2) == 0
    for contact in contacts:
        assert len(planned_for(contact.id)) == 1


@pytest.mark.parametrize(
    "situation",
    [
        "not yet due",
        "still planned",
        "no rhythm for the contact",
        "no rhythm for the professional",
        "already has a planned one",
        "a later touchpoint exists",
    ],
)
def test_what_the_passed_date_rule_leaves_alone(ctx, user, contact, situation):
    if situation == "not yet due":
        sent_touchpoint(contact, due_on=TODAY + timedelta(days=1))
    elif situation == "still planned":
        make_touchpoint(contact, due_on=days_ago(30))  # overdue, never sent
    elif situation == "no rhythm for the contact":
        contact.rhythm_days = 0
        sent_touchpoint(contact, due_on=days_ago(3))
    elif situation == "no rhythm for the professional":
        user.rhythm_days = None
        sent_touchpoint(contact, due_on=days_ago(3))
    elif situation == "already has a planned one":
        sent_touchpoint(contact, due_on=days_ago(3))
        make_touchpoint(contact, due_on=days_ago(40))  # planned by hand, even an earlier date
    else:
        sent_touchpoint(contact, due_on=days_ago(30))
        sent_touchpoint(contact, due_on=TODAY + timedelta(days=3))
    before = count_rows(Touchpoint)

    assert plan_due_rhythm(TODAY) == 0
    assert count_rows(Touchpoint) == before


def test_a_cancelled_touchpoint_is_skipped_and_the_rhythm_carries_on_from_its_date(ctx, contact):
    cancelled = make_touchpoint(contact, due_on=days_ago(2), state=TouchpointState.CANCELLED)

    assert plan_due_rhythm(TODAY) == 1

    (planned,) = planned_for(contact.id)
    assert planned.due_on == cancelled.due_on + timedelta(days=91)


def test_only_the_professionals_own_contacts_are_looked_at_per_contact(ctx, user, contact):
    """Two professionals with different rhythms: each contact follows its own."""
    other = make_user("other@example.com", rhythm_days=28)
    theirs = make_contact(other)
    sent_touchpoint(contact, due_on=days_ago(1))
    sent_touchpoint(theirs, due_on=days_ago(1))

    plan_due_rhythm(TODAY)

    assert planned_for(contact.id)[0].due_on == days_ago(1) + timedelta(days=91)
    (planned,) = planned_for(theirs.id)
    assert (planned.due_on, planned.user_id) == (days_ago(1) + timedelta(days=28), other.id)


def test_a_planned_touchpoint_dated_before_the_latest_hands_the_rhythm_back_once_sent(ctx, contact):
    """While it waits the rhythm does nothing; once it is sent, the rhythm follows the
    latest touchpoint again, in the same run."""
    latest = sent_touchpoint(contact, due_on=days_ago(5))
    earlier = make_touchpoint(contact, due_on=days_ago(20))  # planned by hand, not yet sent
    assert plan_due_rhythm(TODAY) == 0

    earlier.mark_sent()
    db.session.commit()

    assert plan_due_rhythm(TODAY) == 1
    (planned,) = planned_for(contact.id)
    assert planned.due_on == latest.due_on + timedelta(days=91)
    assert plan_due_rhythm(TODAY) == 0


def test_an_earlier_touchpoint_opened_hands_the_rhythm_to_the_latest(ctx, contact):
    """In batches of one, as from several runs: each latest one's next is planned once."""
    other = make_contact(contact.user)
    for someone in (contact, other):
        make_touchpoint(someone, due_on=days_ago(30))  # planned: the rhythm waits for it
        sent_touchpoint(someone, due_on=days_ago(3))
    assert plan_due_rhythm(TODAY, size=1) == 0
    # A first opening of the link records itself with a plain UPDATE, not the ORM.
    db.session.execute(
        sa.update(Touchpoint)
        .where(Touchpoint.state == TouchpointState.PLANNED)
        .values(state=TouchpointState.OPENED)
    )
    db.session.commit()

    assert plan_due_rhythm(TODAY, size=1) == 2
    for someone in (contact, other):
        (planned,) = planned_for(someone.id)
        assert planned.due_on == days_ago(3) + timedelta(days=91)


def test_switching_a_contacts_rhythm_on_plans_their_next_touchpoint(signed_in, user):
    contact = make_contact(user, rhythm_days=0)
    sent_touchpoint(contact, due_on=days_ago(10))
    assert plan_due_rhythm(TODAY) == 0  # no regular touchpoints: nothing, and not again
    settled()

    response = post_form(
        signed_in,
        f"/contacts/{contact.id}/edit",
        {"name": contact.name, "kind": "client", "rhythm_choice": "days", "rhythm_days": "30"},
    )

    assert response.status_code == 303
    assert plan_due_rhythm(TODAY) == 1
    assert planned_for(contact.id)[0].due_on == days_ago(10) + timedelta(days=30)


def test_a_professional_who_sets_a_rhythm_gets_next_touchpoints_planned(signed_in, user):
    user.rhythm_days = None
    db.session.commit()
    contacts = [make_contact(user) for _ in range(3)]
    for contact in contacts:
        sent_touchpoint(contact, due_on=days_ago(10))
    own_none = make_contact(user, rhythm_days=0)
    sent_touchpoint(own_none, due_on=days_ago(10))
    assert plan_due_rhythm(TODAY) == 0
    settled()

    settings = {
        "display_name": "Dana Reyes",
        "ask_count": "2",
        "first_touchpoint_days": "90",
        "attention_days": "14",
        "rhythm_days": "60",
    }
    assert post_form(signed_in, "/settings", settings).status_code == 303

    assert plan_due_rhythm(TODAY) == 3
    for contact in contacts:
        assert planned_for(contact.id)[0].due_on == days_ago(10) + timedelta(days=60)
    assert planned_for(own_none.id) == []


def test_a_cancel_undone_or_a_date_moved_is_looked_at_again_by_the_rhythm(signed_in, contact):
    cancelled = make_touchpoint(contact, due_on=days_ago(2), state=TouchpointState.CANCELLED)
    moved = sent_touchpoint(contact, due_on=days_ago(40))
    assert plan_due_rhythm(TODAY) == 1  # after the cancelled one, its date the latest
    settled()
    assert not db.session.get(Touchpoint, cancelled.id).rhythm_pending
    settled()

    assert post_form(signed_in, f"/touchpoints/{cancelled.id}/restore", {}).status_code == 303
    detail = f"/touchpoints/{moved.id}"
    edit = {"due_on": days_ago(1).isoformat(), "ask_count": "2", "message": moved.message}
    assert post_form(signed_in, detail, edit).status_code == 303

    db.session.expire_all()
    assert db.session.get(Touchpoint, cancelled.id).state == TouchpointState.PLANNED
    assert db.session.get(Touchpoint, cancelled.id).rhythm_pending
    assert db.session.get(Touchpoint, moved.id).rhythm_pending


def test_once_settled_a_run_reads_nothing_but_what_is_due(app, ctx, user):
    """History, planned touchpoints and contacts without a rhythm cost nothing per run."""
    for n in range(6):
        contact = make_contact(user, rhythm_days=0 if n % 3 == 0 else None)
        sent_touchpoint(contact, due_on=days_ago(200))
        sent_touchpoint(contact, due_on=days_ago(100 - n))
    assert plan_due_rhythm(TODAY) == 4  # the contacts with a rhythm, after the latest
    with statements_run() as statements:
        assert plan_due_rhythm(TODAY) == 0
    # One read of the index, which found nothing: no batch, no lock, no write.
    (read,) = [statement for statement in statements if statement.startswith("SELECT")]
    assert "RHYTHM_PENDING" in read
    assert not [s for s in statements if s.startswith(("UPDATE", "INSERT"))]
    marked = count_rows(
        Touchpoint,
        Touchpoint.rhythm_pending.is_(True),
        Touchpoint.state != TouchpointState.PLANNED,
    )
    assert marked == 0


def test_send_due_plans_after_a_passed_date_and_says_so(runner, ctx, contact):
    sent_touchpoint(contact, due_on=days_ago(10))
    settled()

    first = runner.invoke(args=["touchpoints", "send-due"])
    again = runner.invoke(args=["touchpoints", "send-due"])

    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Queued 0 touchpoint emails; planned 1 next touchpoint."
    assert again.output.strip() == "Queued 0 touchpoint emails; planned 0 next touchpoints."
    assert len(planned_for(contact.id)) == 1


def test_send_due_can_act_as_if_today_were_another_day(runner, ctx, contact):
    sent_touchpoint(contact, due_on=TODAY + timedelta(days=10))
    settled()

    result = runner.invoke(
        args=["touchpoints", "send-due", "--today", (TODAY + timedelta(days=10)).isoformat()]
    )

    assert "planned 1 next touchpoint" in result.output
    assert planned_for(contact.id)[0].due_on == TODAY + timedelta(days=101)


# The contact form's rhythm choice


def new_contact(client, **fields):
    settled()
    return post_form(client, "/contacts/new", {"name": "Rae Rhythm", "kind": "client", **fields})


def only_contact() -> Contact:
    db.session.expire_all()
    return db.session.scalars(sa.select(Contact)).one()


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"rhythm_choice": "default", "rhythm_days": ""}, None),
        ({"rhythm_choice": "days", "rhythm_days": "30"}, 30),
        ({"rhythm_choice": "none", "rhythm_days": ""}, 0),
        # The number only counts with its choice.
        ({"rhythm_choice": "none", "rhythm_days": "abc"}, 0),
        ({"rhythm_choice": "default", "rhythm_days": "45"}, None),
    ],
)
def test_the_rhythm_choice_is_stored(signed_in, fields, stored):
    response = new_contact(signed_in, **fields)
    assert response.status_code == 303
    assert only_contact().rhythm_days == stored


def test_the_form_offers_the_default_a_number_or_none(signed_in, user):
    page = signed_in.get("/contacts/new").get_data(as_text=True)
    assert "<legend>Regular touchpoints</legend>" in page
    assert "Your default (every 91 days)" in page
    assert "No regular touchpoints" in page
    assert re.search(r'<input checked[^>]*value="default"', page)

    user.rhythm_days = None
    db.session.commit()
    page = signed_in.get("/contacts/new").get_data(as_text=True)
    assert "Your default (no regular touchpoints)" in page


@pytest.mark.parametrize(("rhythm_days", "choice"), [(None, "default"), (30, "days"), (0, "none")])
def test_the_edit_form_shows_the_saved_choice(signed_in, user, rhythm_days, choice):
    contact = make_contact(user, rhythm_days=rhythm_days)
    page = signed_in.get(f"/contacts/{contact.id}/edit").get_data(as_text=True)
    assert re.search(rf'<input checked[^>]*value="{choice}"', page)
    days_input = re.search(r'<input[^>]*name="rhythm_days"[^>]*>', page).group(0)
    assert ('value="30"' in days_input) == (rhythm_days == 30)


def test_editing_to_no_regular_touchpoints_stores_zero(signed_in, user):
    contact = make_contact(user, rhythm_days=30)
    settled()
    url = f"/contacts/{contact.id}/edit"
    response = post_form(
        signed_in,
        url,
        {"name": contact.name, "kind": "client", "rhythm_choice": "none", "rhythm_days": "30"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).rhythm_days == 0
    assert db.session.get(Contact, contact.id).rhythm is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter how many days between touchpoints, from 7 to 365."),
        ("3", "Enter a number of days from 7 to 365."),
        ("400", "Enter a number of days from 7 to 365."),
        ("often", "Enter a whole number of days, like 91."),
    ],
)
def test_a_number_of_days_is_checked_and_what_was_typed_kept(signed_in, typed, message):
    response = new_contact(signed_in, rhythm_choice="days", rhythm_days=typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert 'aria-invalid="true"' in page
    assert re.search(r'<input checked[^>]*value="days"', page)
    assert 'value="Rae Rhythm"' in page
    if typed:
        assert f'value="{typed}"' in page
    assert count_rows(Contact) == 0


def test_an_unknown_choice_is_refused(signed_in):
    response = new_contact(signed_in, rhythm_choice="weekly")
    assert response.status_code == 422
    assert count_rows(Contact) == 0


def test_a_number_posted_without_a_choice_means_that_number(signed_in):
    """Older pages and scripts post only rhythm_days."""
    assert new_contact(signed_in, rhythm_days="60").status_code == 303
    assert only_contact().rhythm_days == 60


def test_the_default_label_follows_the_professional(signed_in, user):
    """The label is per request: another professional's default never leaks in."""
    other = User(email="x@example.com", rhythm_days=28, password_hash="x")
    db.session.add(other)
    db.session.commit()
    page = signed_in.get("/contacts/new").get_data(as_text=True)
    assert "every 28 days" not in page and "Your default (every 91 days)" in page


def test_planning_reads_the_contacts_own_touchpoints_whatever_the_statistics(ctx, user, contact):
    """PostgreSQL plans with statistics: taken when nearly every touchpoint was sent,
    they make "planned" look rarer than one contact's rows. The check for a planned
    touchpoint must still go by the contact, never through every professional's
    planned touchpoints along the send-due index (state first)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner and its statistics (SQLite keeps none here)")
    others = db.session.scalars(
        sa.insert(Contact).returning(Contact.id),
        [{"user_id": user.id, "name": f"Client {n}"} for n in range(3000)],
    ).all()
    db.session.execute(
        sa.insert(Touchpoint),
        [
            {"user_id": user.id, "contact_id": other, "due_on": days_ago(30), "message": "Hi",
             "state": TouchpointState.SENT}
            for other in others
        ],
    )  # fmt: skip
    make_touchpoint(make_contact(user), state=TouchpointState.PLANNED)
    answered = sent_touchpoint(contact)
    db.session.execute(sa.text("ANALYZE touchpoint"))
    db.session.commit()

    recorded: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO TOUCHPOINT"):
            recorded.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert plan_after_answer(answered) is not None
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    db.session.rollback()
    [(statement, parameters)] = recorded
    plan = "\n".join(
        row[0]
        for row in db.session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)
    )
    db.session.rollback()
    assert "ix_touchpoint_send_due" not in plan, plan
    assert "ix_touchpoint_contact_due" in plan or "pk_touchpoint" in plan, plan
