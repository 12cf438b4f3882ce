"""The home page (what is due, new referrals) and the professional's settings."""

from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import ReferralStatus, TouchpointState
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


def test_home_with_nothing_due_shows_what_comes_next(signed_in, user):
    make_touchpoint(make_contact(user, name="Nina Next"), due_on=date.today() + timedelta(5))
    page = signed_in.get("/").get_data(as_text=True)
    assert "Nothing is due today" in page
    assert "Nina Next" in page


def test_home_lists_new_referrals_with_who_introduced_them(signed_in, user):
    referrer = make_contact(user, name="Rita Referrer")
    make_referral(referrer, name="Norah New")
    make_referral(referrer, name="Carl Contacted", status=ReferralStatus.CONTACTED)
    page = signed_in.get("/").get_data(as_text=True)
    assert "Norah New" in page and "Rita Referrer" in page
    assert f'href="/contacts/{referrer.id}"' in page
    assert "Carl Contacted" not in page


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


def test_settings_describe_the_rhythm_as_an_aim_not_as_planning(signed_in):
    """Nothing plans later touchpoints from the rhythm yet: the page must not promise it."""
    page = signed_in.get("/settings").get_data(as_text=True)
    assert "How often you aim to be in touch, in days" in page
    assert "Referloop plans only the first touchpoint after delivery" in page
    assert "How often to plan the next ones" not in page
    assert "Days between later touchpoints" not in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "  ", "Enter your name"),
        ("ask_count", "9", "Enter a number from 1 to 5."),
        ("ask_count", "two", "Enter a whole number"),
        ("first_touchpoint_days", "3", "Enter a number of days from 7 to 365."),
        ("rhythm_days", "1000", "from 7 to 365, or leave it blank"),
        ("value_proposition", "x" * 281, "Keep it to one line"),
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
