"""The home page (what is due, new answers, what needs attention, the quarter) and settings."""

import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.main.routes import money, quarter_bounds
from app.models import ReferralStatus, TouchpointState, utcnow
from app.templating import day
from tests.conftest import post_form
from tests.factories import days_ago, make_contact, make_referral, make_touchpoint, make_user

SETTINGS = {
    "display_name": "Dana Reyes",
    "business_name": "Reyes Advisory",
    "value_proposition": "helps family firms plan succession",
    "blurb": "Dana works with family firms.\nShe starts with a free review.",
    "ask_count": "3",
    "first_touchpoint_days": "60",
    "rhythm_days": "",
    "attention_days": "21",
}


def test_a_new_account_is_shown_how_to_start(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert "Add your first contact" in page
    assert 'href="/contacts/new"' in page
    assert "already talked to" in page  # the method, in two lines
    assert 'href="/settings"' in page


def test_home_lists_touchpoints_due_today_and_overdue(signed_in, user):
    today_tp = make_touchpoint(make_contact(user, name="Tara Today"), due_on=date.today())
    late_tp = make_touchpoint(make_contact(user, name="Olaf Overdue"), due_on=days_ago(3))
    make_touchpoint(make_contact(user, name="Fiona Future"), due_on=date.today() + timedelta(1))
    make_touchpoint(
        make_contact(user, name="Sid Sent"), due_on=days_ago(1), state=TouchpointState.SENT
    )
    stranger = make_user(email="other@example.com")
    make_touchpoint(make_contact(stranger, name="Xavier Elsewhere"), due_on=days_ago(1))

    page = signed_in.get("/").get_data(as_text=True)
    assert "Tara Today" in page and "Olaf Overdue" in page
    assert f'href="/touchpoints/{today_tp.id}"' in page
    assert f'href="/touchpoints/{late_tp.id}"' in page
    assert "Overdue by 3 days" in page
    assert page.index("Olaf Overdue") < page.index("Tara Today")  # most overdue first
    for absent in ("Fiona Future", "Sid Sent", "Xavier Elsewhere", "Add your first contact"):
        assert absent not in page


def test_home_shows_the_first_ten_due_and_links_to_all(signed_in, user):
    contact = make_contact(user)
    for n in range(12):
        make_touchpoint(contact, due_on=days_ago(n))
    page = signed_in.get("/").get_data(as_text=True)
    assert page.count('href="/touchpoints/') - page.count('href="/touchpoints/"') == 10
    assert "See all 12 touchpoints that are due" in page


def test_home_counts_stop_at_the_cap_and_say_so(signed_in, user, monkeypatch):
    """Years of history: the counts stop at their caps (here 11) instead of reading every row."""
    monkeypatch.setattr("app.helpers.COUNT_CAP", 11)
    monkeypatch.setattr("app.main.routes.ATTENTION_COUNT_CAP", 11)
    contact = make_contact(user)
    for n in range(12):
        make_touchpoint(contact, due_on=days_ago(n))
        make_referral(contact)
    page = signed_in.get("/").get_data(as_text=True)
    assert "See all 11+ touchpoints that are due" in page
    assert "See all 11+ that need attention" in page
    assert '<span class="badge">11+</span>' in page


def test_home_with_nothing_due_shows_what_comes_next(signed_in, user):
    make_touchpoint(make_contact(user, name="Nina Next"), due_on=date.today() + timedelta(5))
    page = signed_in.get("/").get_data(as_text=True)
    assert "Nothing is due today" in page
    assert "Nina Next" in page


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_home_lists_new_answers_with_who_answered_and_how_many(signed_in, user):
    jamie = make_contact(user, name="Jamie Answered")
    touchpoint = make_touchpoint(jamie)
    make_referral(jamie, touchpoint, name="Ann One", created_at=utcnow() - timedelta(days=2))
    make_referral(jamie, touchpoint, name="Bob Two", created_at=utcnow() - timedelta(days=2))
    old = make_contact(user, name="Olga Oldanswer")
    make_referral(old, make_touchpoint(old), created_at=utcnow() - timedelta(days=20))
    by_hand = make_contact(user, name="Hal Byhand")
    make_referral(by_hand, None)  # not an answer to a link
    stranger = make_user(email="other@example.com")
    elsewhere = make_contact(stranger, name="Xavier Elsewhere")
    make_referral(elsewhere, make_touchpoint(elsewhere))

    page = signed_in.get("/").get_data(as_text=True)
    answers = section(page, "answers-heading")
    assert "Jamie Answered" in answers and f'href="/contacts/{jamie.id}"' in answers
    assert "2 people" in answers
    assert day((utcnow() - timedelta(days=2)).date()) in answers
    for absent in ("Olga Oldanswer", "Hal Byhand", "Xavier Elsewhere"):
        assert absent not in answers
    assert "New referrals" not in page  # replaced by these sections


def test_home_lists_what_needs_attention_with_the_reasons(signed_in, user):
    referrer = make_contact(user, name="Rita Referrer")
    thanked = utcnow()
    new = make_referral(referrer, name="Norah New", thanked_at=thanked)
    stale = make_referral(
        referrer,
        name="Quinn Quiet",
        status=ReferralStatus.CONTACTED,
        last_step_at=utcnow() - timedelta(days=20),
        thanked_at=thanked,
    )
    unthanked = make_referral(referrer, name="Una Unthanked", status=ReferralStatus.MEETING_SET)
    make_referral(referrer, name="Fine Fiona", status=ReferralStatus.CONTACTED, thanked_at=thanked)
    make_referral(referrer, name="Won Walter", status=ReferralStatus.WON, thanked_at=thanked)
    stranger = make_user(email="other@example.com")
    make_referral(make_contact(stranger), name="Xavier Elsewhere")

    page = signed_in.get("/").get_data(as_text=True)
    attention = section(page, "attention-heading")
    assert '<span class="badge">3</span>' in attention
    for referral in (new, stale, unthanked):
        assert f'href="/referrals/{referral.id}"' in attention
    assert attention.index("Quinn Quiet") < attention.index("Norah New")  # longest waiting first
    assert "Not contacted yet" in attention
    assert "No step for 20 days" in attention
    assert "Referrer not thanked" in attention
    assert "introduced by Rita Referrer" in attention
    for absent in ("Fine Fiona", "Won Walter", "Xavier Elsewhere"):
        assert absent not in attention
    assert 'href="/referrals/?view=attention"' in attention


def test_home_lists_the_first_few_that_need_attention_and_counts_them_all(signed_in, user):
    referrer = make_contact(user)
    for n in range(8):
        make_referral(referrer, name=f"Waiting {n}")
    attention = section(signed_in.get("/").get_data(as_text=True), "attention-heading")
    assert attention.count('href="/referrals/') - attention.count("view=attention") == 5
    assert '<span class="badge">8</span>' in attention
    assert "See all 8 that need attention" in attention


def test_the_attention_days_setting_decides_when_a_referral_has_gone_quiet(signed_in, user):
    make_referral(
        make_contact(user),
        name="Quinn Quiet",
        status=ReferralStatus.CONTACTED,
        last_step_at=utcnow() - timedelta(days=10),
        thanked_at=utcnow(),
    )
    assert "Quinn Quiet" not in signed_in.get("/").get_data(as_text=True)  # 14 days by default
    user.attention_days = 7
    db.session.commit()
    assert "No step for 10 days" in signed_in.get("/").get_data(as_text=True)


def test_home_counts_this_quarters_referrals_introductions_and_clients_won(signed_in, user):
    first_day, _ = quarter_bounds(date.today())
    last_quarter = at(first_day - timedelta(days=1))
    this_quarter = at(first_day)
    referrer = make_contact(user)

    # Received this quarter: three. One from last quarter does not count.
    new = make_referral(referrer, created_at=this_quarter)
    contacted = make_referral(referrer, created_at=this_quarter)
    contacted.change_status(ReferralStatus.CONTACTED, author="Dana")
    contacted.change_status(ReferralStatus.MEETING_SET, author="Dana")
    won = make_referral(referrer, created_at=this_quarter)
    won.change_status(ReferralStatus.WON, author="Dana", value_won=Decimal("12000.50"))
    old = make_referral(referrer, created_at=last_quarter)
    old.change_status(ReferralStatus.CONTACTED, author="Dana", now=last_quarter)
    # Won this quarter although introduced last quarter: counts as won, not as introduced.
    old.change_status(ReferralStatus.WON, author="Dana", value_won=Decimal("500"))
    # Won last quarter: not this quarter's.
    earlier = make_referral(referrer, created_at=last_quarter)
    earlier.change_status(
        ReferralStatus.WON, author="Dana", value_won=Decimal("9999"), now=last_quarter
    )
    # Won this quarter, then put on hold: no longer a client won.
    paused = make_referral(referrer, created_at=last_quarter)
    paused.change_status(ReferralStatus.WON, author="Dana", value_won=Decimal("7777"))
    paused.change_status(ReferralStatus.ON_HOLD, author="Dana")
    # Another professional's figures never show.
    stranger = make_user(email="other@example.com")
    theirs = make_referral(make_contact(stranger))
    theirs.change_status(ReferralStatus.WON, author="X", value_won=Decimal("1000000"))
    db.session.commit()
    assert new.status == ReferralStatus.NEW

    quarter = section(signed_in.get("/").get_data(as_text=True), "quarter-heading")
    assert figures(quarter) == {
        "Referrals received": "3",
        "Introductions made": "3",  # contacted, won, paused left "new" this quarter
        "Clients won": "2",
        "Value of the clients won": "12,500.50",
    }


def test_a_quarter_without_referrals_says_so(signed_in, user):
    make_contact(user)
    page = signed_in.get("/").get_data(as_text=True)
    quarter = section(page, "quarter-heading")
    assert figures(quarter) == {
        "Referrals received": "0",
        "Introductions made": "0",
        "Clients won": "0",
        "Value of the clients won": "0",
    }
    assert "Nothing yet this quarter" in quarter
    assert "No answers in the last 14 days" in page
    assert "Nothing needs you right now" in page


@pytest.mark.parametrize(
    ("today", "first", "next_first"),
    [
        (date(2027, 1, 1), date(2027, 1, 1), date(2027, 4, 1)),
        (date(2027, 5, 31), date(2027, 4, 1), date(2027, 7, 1)),
        (date(2027, 9, 30), date(2027, 7, 1), date(2027, 10, 1)),
        (date(2027, 12, 31), date(2027, 10, 1), date(2028, 1, 1)),
    ],
)
def test_quarters_are_calendar_quarters(today, first, next_first):
    assert quarter_bounds(today) == (first, next_first)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "0"), (Decimal("12500.00"), "12,500"), (Decimal("1234567.5"), "1,234,567.50")],
)
def test_money_is_written_plainly(value, text):
    assert money(value) == text


@contextmanager
def counted_queries():
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def add_a_bit_of_everything(user, n: int) -> None:
    """``n`` contacts, each with a due touchpoint, an answer and referrals at every stage."""
    for i in range(n):
        contact = make_contact(user)
        touchpoint = make_touchpoint(contact, due_on=days_ago(i % 3))
        make_referral(contact, touchpoint)
        contacted = make_referral(contact, touchpoint)
        contacted.change_status(ReferralStatus.CONTACTED, author="Dana")
        won = make_referral(contact, touchpoint)
        won.change_status(ReferralStatus.WON, author="Dana", value_won=Decimal("100"))
        db.session.commit()


def test_the_home_page_costs_a_few_queries_whatever_the_data(signed_in, user):
    def queries() -> int:
        db.session.rollback()
        with counted_queries() as statements:
            assert signed_in.get("/").status_code == 200
        return len(statements)

    add_a_bit_of_everything(user, 1)
    few = queries()
    add_a_bit_of_everything(user, 15)
    many = queries()
    assert many == few
    assert many <= 8


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {heading_id}"
    return match.group(1)


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))


def test_settings_are_saved(signed_in, user):
    response = post_form(signed_in, "/settings", SETTINGS)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings"
    assert "Your settings are saved" in signed_in.get("/settings").get_data(as_text=True)
    db.session.refresh(user)
    assert user.value_proposition == "helps family firms plan succession"
    assert user.ask_count == 3
    assert user.first_touchpoint_days == 60
    assert user.rhythm_days is None
    assert user.attention_days == 21


def test_settings_say_how_the_rhythm_plans_the_next_touchpoint(signed_in):
    page = signed_in.get("/settings").get_data(as_text=True)
    assert "How often you aim to be in touch, in days" in page
    assert "Referloop plans the next one this many days on" in page
    assert "Leave it blank for no regular touchpoints" in page
    assert "plans only the first touchpoint" not in page


def test_settings_show_when_a_referral_needs_attention(signed_in, user):
    page = signed_in.get("/settings").get_data(as_text=True)
    assert "A referral needs attention after this many days without a step" in page
    assert re.search(r'<input[^>]*id="attention_days"[^>]*value="14"', page)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "  ", "Enter your name"),
        ("ask_count", "9", "Enter a number from 1 to 5."),
        ("ask_count", "two", "Enter a whole number"),
        ("first_touchpoint_days", "3", "Enter a number of days from 7 to 365."),
        ("rhythm_days", "1000", "from 7 to 365, or leave it blank"),
        ("value_proposition", "x" * 281, "Keep it to one line"),
        ("attention_days", "", "Enter a number of days from 1 to 90."),
        ("attention_days", "0", "Enter a number of days from 1 to 90."),
        ("attention_days", "91", "Enter a number of days from 1 to 90."),
        ("attention_days", "a week", "Enter a whole number"),
    ],
)
def test_settings_refuse_bad_values_and_keep_the_rest(signed_in, user, field, value, message):
    response = post_form(signed_in, "/settings", {**SETTINGS, field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert f'aria-describedby="{field}-hint {field}-error"' in page
    assert "She starts with a free review." in page  # what was typed stays
    assert value.strip() in page
    db.session.refresh(user)
    assert user.ask_count == 2  # nothing saved
