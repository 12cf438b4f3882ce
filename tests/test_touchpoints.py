"""Touchpoints: the due list, planning by hand, the message, and sending it with its link."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Contact, OutboundEmail, Touchpoint, TouchpointState, utcnow
from app.tokens import LinkState, client_link_token, read_client_link
from tests.conftest import count_rows, post_form
from tests.factories import days_ago, make_contact, make_touchpoint, make_user

LINK_INPUT = re.compile(r'<input id="client-link" type="text" readonly value="([^"]+)"')


def settled():
    """End the test's own transaction so the app can take the SQLite write lock."""
    db.session.rollback()


def post(client, url, data=None, *, page=None, **kwargs):
    """POST like a browser from ``page`` (default: the touchpoint page the action lives on)."""
    settled()
    return post_form(client, url, data or {}, page=page, **kwargs)


def fresh(model, ident):
    """The row as the app left it."""
    db.session.expire_all()
    return db.session.get(model, ident)


def link_on_page(html: str) -> str:
    match = LINK_INPUT.search(html)
    assert match, "no client link on the page"
    return match.group(1)


def token_of(link: str) -> str:
    assert "/r/" in link
    return link.rsplit("/r/", 1)[1]


@pytest.fixture
def contact(user):
    return make_contact(user, name="Ann Lee", email="ann@example.net")


@pytest.fixture
def touchpoint(contact):
    return make_touchpoint(contact, due_on=days_ago(3))


@pytest.fixture
def other_touchpoint(ctx):
    """Another professional's touchpoint, due and with a contact that has an email."""
    other = make_user("other@example.com", display_name="Otto Other")
    stranger = make_contact(other, name="Stranger Danger", email="stranger@example.net")
    return make_touchpoint(stranger, due_on=days_ago(5))


# --- The due list -------------------------------------------------------------------------


def test_due_list_shows_overdue_then_due_today_and_nothing_else(signed_in, user, other_touchpoint):
    make_touchpoint(make_contact(user, name="Tara Today"), due_on=date.today())
    make_touchpoint(make_contact(user, name="Olive Overdue"), due_on=days_ago(10))
    make_touchpoint(make_contact(user, name="Fred Future"), due_on=date.today() + timedelta(1))
    make_touchpoint(
        make_contact(user, name="Sam Sent"), due_on=days_ago(20), state=TouchpointState.SENT
    )
    make_touchpoint(
        make_contact(user, name="Cass Cancelled"),
        due_on=days_ago(20),
        state=TouchpointState.CANCELLED,
    )
    settled()

    html = signed_in.get("/touchpoints/").get_data(as_text=True)

    assert html.index("Olive Overdue") < html.index("Tara Today")
    assert "Overdue by 10 days" in html
    assert "Due today" in html
    for absent in ("Fred Future", "Sam Sent", "Cass Cancelled", "Stranger Danger"):
        assert absent not in html


def test_upcoming_and_sent_lists(signed_in, user):
    make_touchpoint(make_contact(user, name="Fred Future"), due_on=date.today() + timedelta(7))
    make_touchpoint(make_contact(user, name="Olive Overdue"), due_on=days_ago(2))
    make_touchpoint(
        make_contact(user, name="Sam Sent"),
        due_on=days_ago(20),
        state=TouchpointState.SENT,
        sent_at=utcnow(),
    )
    settled()

    upcoming = signed_in.get("/touchpoints/?show=upcoming").get_data(as_text=True)
    sent = signed_in.get("/touchpoints/?show=sent").get_data(as_text=True)

    assert "Fred Future" in upcoming and "in 7 days" in upcoming
    assert "Olive Overdue" not in upcoming and "Sam Sent" not in upcoming
    assert "Sam Sent" in sent
    assert "Fred Future" not in sent and "Olive Overdue" not in sent


def test_empty_due_list_says_where_touchpoints_come_from(signed_in):
    html = signed_in.get("/touchpoints/").get_data(as_text=True)
    assert "Nothing due." in html
    assert "Touchpoints are planned when you set a delivery date on a contact." in html


def test_due_list_is_paginated(app, signed_in, user):
    app.config["PER_PAGE"] = 2
    for n, name in enumerate(["First Due", "Second Due", "Third Due"]):
        make_touchpoint(make_contact(user, name=name), due_on=days_ago(10 - n))
    settled()

    first = signed_in.get("/touchpoints/").get_data(as_text=True)
    second = signed_in.get("/touchpoints/?page=2").get_data(as_text=True)

    assert "First Due" in first and "Second Due" in first and "Third Due" not in first
    assert "Page 1 of 2" in first
    assert "Third Due" in second and "First Due" not in second


def test_due_list_reads_contacts_in_the_same_query(app, signed_in, user):
    """Ten rows cost no more queries than one: the contact's name comes with the touchpoint."""
    statements = []

    def count(*_args):
        statements.append(1)

    make_touchpoint(make_contact(user), due_on=days_ago(1))
    settled()
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        signed_in.get("/touchpoints/")
        with_one = len(statements)
        for _ in range(9):
            make_touchpoint(make_contact(user), due_on=days_ago(1))
        settled()
        statements.clear()
        signed_in.get("/touchpoints/")
        with_ten = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert with_ten == with_one


# --- Planning one by hand -----------------------------------------------------------------


def test_add_a_touchpoint_by_hand_suggests_the_message(signed_in, user, contact):
    user.ask_count = 3
    db.session.commit()
    contact_id = contact.id
    url = f"/touchpoints/new?contact_id={contact_id}"
    page = signed_in.get(url).get_data(as_text=True)
    assert 'name="ask_count"' in page and 'value="3"' in page

    due = date.today() + timedelta(days=14)
    response = post(
        signed_in,
        url,
        {
            "due_on": due.isoformat(),
            "value_offered": "A mini-audit of payroll.",
            "ask_count": 2,
        },
    )

    assert response.status_code == 303
    touchpoint = db.session.scalar(sa.select(Touchpoint).where(Touchpoint.contact_id == contact_id))
    assert response.headers["Location"].endswith(f"/touchpoints/{touchpoint.id}")
    assert touchpoint.due_on == due
    assert touchpoint.value_offered == "A mini-audit of payroll."
    assert touchpoint.ask_count == 2
    assert touchpoint.state == TouchpointState.PLANNED
    assert touchpoint.message == touchpoint.default_message()
    assert "A mini-audit of payroll." in touchpoint.message
    assert "Who are the 2 people" in touchpoint.message


def test_cannot_add_a_touchpoint_to_another_professionals_contact(signed_in, user):
    other = make_user("other@example.com")
    stranger_id = make_contact(other, name="Stranger").id
    url = f"/touchpoints/new?contact_id={stranger_id}"
    assert signed_in.get(url).status_code == 404
    response = post(signed_in, url, {"due_on": "2030-01-01", "ask_count": 2}, page="/touchpoints/")
    assert response.status_code == 404
    assert count_rows(Touchpoint) == 0


@pytest.mark.parametrize(
    ("due_on", "ask_count", "message"),
    [
        ("", "2", "Choose the day this touchpoint is due."),
        ("not a date", "2", "Enter a date like 2027-03-14"),
        ("2030-01-01", "9", "Ask for between 1 and 5 people."),
        ("2030-01-01", "0", "Ask for between 1 and 5 people."),
        ("2030-01-01", "", "Say how many people to ask for (1 to 5)."),
        ("0001-01-01", "2", "That date looks mistyped. Check the year."),
        ("2300-01-01", "2", "That date looks mistyped. Check the year."),
    ],
)
def test_new_touchpoint_with_bad_input_keeps_what_was_typed(
    signed_in, contact, due_on, ask_count, message
):
    url = f"/touchpoints/new?contact_id={contact.id}"
    response = post(
        signed_in,
        url,
        {"due_on": due_on, "ask_count": ask_count, "value_offered": "Quarterly trend note"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert "Quarterly trend note" in html
    assert 'aria-invalid="true"' in html
    assert count_rows(Touchpoint) == 0


def test_a_touchpoint_can_be_set_to_email_itself_on_its_due_date(signed_in, contact):
    url = f"/touchpoints/new?contact_id={contact.id}"
    page = signed_in.get(url).get_data(as_text=True)
    assert "Email it automatically on the due date" in page
    assert 'aria-describedby="auto_send-hint"' in page
    assert "It needs Ann's email address (ann@example.net)" in page
    assert "You can still send it yourself" in page

    due = date.today() + timedelta(days=10)
    response = post(signed_in, url, {"due_on": due.isoformat(), "ask_count": 2, "auto_send": "y"})

    assert response.status_code == 303
    touchpoint = db.session.scalar(sa.select(Touchpoint))
    assert touchpoint.auto_send is True
    detail = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert f'Sends automatically on <time datetime="{due.isoformat()}">' in detail
    assert re.search(r'<input[^>]*checked[^>]*name="auto_send"', detail)
    upcoming = signed_in.get("/touchpoints/?show=upcoming").get_data(as_text=True)
    assert "Sends automatically on" in upcoming


def test_unticking_the_box_turns_automatic_sending_off(signed_in, contact):
    touchpoint = make_touchpoint(contact, due_on=date.today(), auto_send=True)
    tp_id = touchpoint.id
    page = signed_in.get(f"/touchpoints/{tp_id}").get_data(as_text=True)
    assert "Sends automatically today" in page
    assert "Sends automatically today" in signed_in.get("/touchpoints/").get_data(as_text=True)

    post(
        signed_in,
        f"/touchpoints/{tp_id}",
        {"due_on": date.today().isoformat(), "ask_count": 2, "message": "Hi", "save": "1"},
    )

    assert fresh(Touchpoint, tp_id).auto_send is False
    page = signed_in.get(f"/touchpoints/{tp_id}").get_data(as_text=True)
    assert "Sends automatically" not in page
    assert "Off: it goes when you send it." in page


@pytest.mark.parametrize(
    ("change", "explanation"),
    [
        ({"email": ""}, "There is no email address for Ann Lee."),
        ({"unsubscribed_at": utcnow()}, "Ann Lee asked not to get emails from Referloop"),
    ],
)
def test_a_touchpoint_that_cannot_email_itself_says_why(signed_in, contact, change, explanation):
    for key, value in change.items():
        setattr(contact, key, value)
    db.session.commit()
    tp_id = make_touchpoint(contact, due_on=date.today() + timedelta(days=5), auto_send=True).id

    for url in (f"/touchpoints/{tp_id}", "/touchpoints/?show=upcoming"):
        html = signed_in.get(url).get_data(as_text=True)
        assert "Won't be sent automatically." in html
        assert explanation in html
        assert "Sends automatically on" not in html


def test_an_overdue_automatic_touchpoint_says_it_goes_with_the_next_run(signed_in, contact):
    tp_id = make_touchpoint(contact, due_on=days_ago(2), auto_send=True).id
    html = signed_in.get(f"/touchpoints/{tp_id}").get_data(as_text=True)
    assert "Set to send automatically: it goes with the next automatic run" in html


def test_sent_touchpoints_say_nothing_about_sending_automatically(signed_in, contact):
    touchpoint = make_touchpoint(contact, auto_send=True)
    touchpoint.mark_sent()
    db.session.commit()
    html = signed_in.get(f"/touchpoints/{touchpoint.id}").get_data(as_text=True)
    assert "automatically today" not in html and "Automatic email" not in html


# --- The touchpoint page: message and details --------------------------------------------


def test_edited_message_is_saved(signed_in, touchpoint):
    url = f"/touchpoints/{touchpoint.id}"
    tp_id = touchpoint.id
    response = post(
        signed_in,
        url,
        {
            "due_on": "2030-03-04",
            "value_offered": "The benchmark report you asked for.",
            "ask_count": 3,
            "message": "Hi Ann,\n\nMy own words.\n\nDana",
            "save": "1",
        },
    )
    assert response.status_code == 303
    saved = fresh(Touchpoint, tp_id)
    assert saved.message == "Hi Ann,\n\nMy own words.\n\nDana"
    assert saved.due_on == date(2030, 3, 4)
    assert saved.ask_count == 3
    page = signed_in.get(url).get_data(as_text=True)
    assert "My own words." in page


def test_an_implausible_due_date_is_not_saved_on_the_touchpoint_page(signed_in, touchpoint):
    tp_id, due = touchpoint.id, touchpoint.due_on
    response = post(
        signed_in,
        f"/touchpoints/{tp_id}",
        {"due_on": "0001-01-01", "ask_count": 2, "message": "Hi", "save": "1"},
    )
    assert response.status_code == 422
    assert "That date looks mistyped. Check the year." in response.get_data(as_text=True)
    assert fresh(Touchpoint, tp_id).due_on == due


def test_suggested_wording_is_rebuilt_from_the_value_offered(signed_in, touchpoint):
    tp_id = touchpoint.id
    response = post(
        signed_in,
        f"/touchpoints/{tp_id}",
        {
            "due_on": "2030-03-04",
            "value_offered": "I introduced you to a great banker.",
            "ask_count": 2,
            "message": "Something I wrote and want replaced",
            "suggest": "1",
        },
    )
    assert response.status_code == 303
    saved = fresh(Touchpoint, tp_id)
    assert "I introduced you to a great banker." in saved.message
    assert "Something I wrote" not in saved.message
    assert saved.message == saved.default_message()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("message", "   ", "Write the message, or use the suggested wording."),
        ("due_on", "", "Choose the day this touchpoint is due."),
        ("ask_count", "6", "Ask for between 1 and 5 people."),
    ],
)
def test_bad_edit_is_refused_and_keeps_what_was_typed(signed_in, touchpoint, field, value, error):
    tp_id, before = touchpoint.id, touchpoint.message
    data = {
        "due_on": "2030-03-04",
        "value_offered": "Typed but not saved",
        "ask_count": "2",
        "message": "A draft I don't want to lose",
        "save": "1",
    }
    data[field] = value
    response = post(signed_in, f"/touchpoints/{tp_id}", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error in html
    assert "Typed but not saved" in html
    assert fresh(Touchpoint, tp_id).message == before


# --- The link and sending -----------------------------------------------------------------


def test_the_link_to_copy_is_a_valid_client_link(signed_in, touchpoint):
    tp_id = touchpoint.id
    html = signed_in.get(f"/touchpoints/{tp_id}").get_data(as_text=True)
    link = link_on_page(html)
    state = read_client_link(token_of(link))
    assert state.state == LinkState.VALID
    assert state.touchpoint.id == tp_id
    # The whole message to paste elsewhere carries the same link under the message.
    whole = re.search(r'<textarea id="whole-message" readonly[^>]*>(.*?)</textarea>', html, re.S)
    assert whole and link in whole.group(1)
    assert "Who are the 2 people" in whole.group(1)
    assert 'data-copy="#client-link"' in html and 'data-copy="#whole-message"' in html


def test_email_it_queues_one_email_with_message_and_link_and_marks_sent(
    signed_in, user, contact, touchpoint
):
    tp_id, contact_id, user_id, user_email = touchpoint.id, contact.id, user.id, user.email
    url = f"/touchpoints/{tp_id}"
    link = link_on_page(signed_in.get(url).get_data(as_text=True))
    message = touchpoint.message

    response = post(signed_in, f"{url}/email", page=url)

    assert response.status_code == 303
    follow = signed_in.get(url).get_data(as_text=True)
    assert "Queued: you can follow it in the Outbox" in follow
    emails = db.session.scalars(sa.select(OutboundEmail)).all()
    assert len(emails) == 1
    email = emails[0]
    assert email.template == "touchpoint"
    assert (email.to_email, email.to_name) == ("ann@example.net", "Ann Lee")
    assert email.reply_to == user_email
    assert (email.user_id, email.contact_id) == (user_id, contact_id)
    assert email.state.value == "queued"
    # The same link as the page's, re-signed when queued (its timestamp may differ).
    sent_link = re.search(r"\S+/r/[\w.-]+", email.body_text).group(0)
    assert sent_link.rsplit("/r/", 1)[0] == link.rsplit("/r/", 1)[0]
    assert sent_link in email.body_html
    sent = read_client_link(token_of(sent_link))
    assert sent.state == LinkState.VALID and sent.touchpoint.id == tp_id
    assert message.split("\n\n")[1] in email.body_text  # the value paragraph
    assert "Who are the 2 people" in email.body_html
    assert "30 days" in email.body_text
    saved = fresh(Touchpoint, tp_id)
    assert saved.state == TouchpointState.SENT
    assert saved.sent_at is not None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "helps dental practices cut their tax bill",
            "If it helps to pass on: Dana Reyes helps dental practices cut their tax bill.",
        ),
        (
            "I help dental practices cut their tax bill.",
            "If it helps to pass on: I help dental practices cut their tax bill.",
        ),
        ("", None),
    ],
)
def test_the_email_passes_on_the_one_line_as_a_sentence(
    signed_in, user, touchpoint, line, expected
):
    """The same words as the referral form and the thank-you email, never "Dana Reyes I help"."""
    user.value_proposition = line
    db.session.commit()
    url = f"/touchpoints/{touchpoint.id}"
    post(signed_in, f"{url}/email", page=url)
    email = db.session.scalar(sa.select(OutboundEmail))
    for body in (email.body_text, email.body_html):
        assert "Dana Reyes I help" not in body
        assert "(Reyes Advisory) I help" not in body
        if expected:
            assert expected in body
        else:
            assert "If it helps to pass on" not in body


def test_emailing_again_is_a_reminder_that_says_when_it_was_first_sent(signed_in, touchpoint):
    url = f"/touchpoints/{touchpoint.id}"
    post(signed_in, f"{url}/email", page=url)
    page = signed_in.get(url).get_data(as_text=True)
    assert "It was already sent on" in page
    assert "Email it again to Ann Lee" in page

    response = post(signed_in, f"{url}/email", page=url, follow_redirects=True)

    assert "Queued again as a reminder" in response.get_data(as_text=True)
    assert count_rows(OutboundEmail) == 2


@pytest.mark.parametrize(
    ("change", "explanation"),
    [
        ({"email": ""}, "There is no email address for Ann Lee."),
        ({"unsubscribed_at": utcnow()}, "Ann Lee asked not to get emails from Referloop"),
    ],
)
def test_contact_without_email_or_unsubscribed_cannot_be_emailed(
    signed_in, contact, touchpoint, change, explanation
):
    for key, value in change.items():
        setattr(contact, key, value)
    db.session.commit()
    tp_id = touchpoint.id
    url = f"/touchpoints/{tp_id}"
    html = signed_in.get(url).get_data(as_text=True)
    assert explanation in html
    assert re.search(r"<button[^>]*disabled[^>]*>Email it to Ann Lee</button>", html)
    assert "I've sent it myself" in html  # sending it themselves still works

    response = post(signed_in, f"{url}/email", page=url, follow_redirects=True)

    assert explanation in response.get_data(as_text=True)
    assert count_rows(OutboundEmail) == 0
    assert fresh(Touchpoint, tp_id).state == TouchpointState.PLANNED


def test_sent_it_myself_marks_the_touchpoint_sent_without_email(signed_in, touchpoint):
    tp_id = touchpoint.id
    url = f"/touchpoints/{tp_id}"
    response = post(signed_in, f"{url}/sent", page=url)
    assert response.status_code == 303
    saved = fresh(Touchpoint, tp_id)
    assert saved.state == TouchpointState.SENT and saved.sent_at is not None
    assert count_rows(OutboundEmail) == 0
    assert "Ann Lee" not in signed_in.get("/touchpoints/").get_data(as_text=True)


def test_revoking_stops_the_old_link_and_leaves_none_valid(signed_in, touchpoint):
    tp_id = touchpoint.id
    url = f"/touchpoints/{tp_id}"
    old_token = token_of(link_on_page(signed_in.get(url).get_data(as_text=True)))

    response = post(signed_in, f"{url}/revoke", page=url)

    assert response.status_code == 303
    db.session.expire_all()
    assert read_client_link(old_token).state == LinkState.REPLACED
    saved = fresh(Touchpoint, tp_id)
    # Even a token signed for the current version does not work until a new link is issued.
    assert read_client_link(client_link_token(saved)).state == LinkState.REPLACED
    html = signed_in.get(url).get_data(as_text=True)
    assert not LINK_INPUT.search(html)
    assert "No link works right now" in html
    assert re.search(r"<button[^>]*disabled[^>]*>Email it to Ann Lee</button>", html) is None
    settled()
    post(signed_in, f"{url}/email", page=url)
    assert count_rows(OutboundEmail) == 0


def test_issuing_a_new_link_replaces_the_old_one(signed_in, touchpoint):
    url = f"/touchpoints/{touchpoint.id}"
    old_token = token_of(link_on_page(signed_in.get(url).get_data(as_text=True)))

    response = post(signed_in, f"{url}/reissue", page=url, follow_redirects=True)

    new_token = token_of(link_on_page(response.get_data(as_text=True)))
    assert new_token != old_token
    db.session.expire_all()
    assert read_client_link(new_token).state == LinkState.VALID
    assert read_client_link(old_token).state == LinkState.REPLACED


def test_a_revoked_link_can_be_reissued(signed_in, touchpoint):
    url = f"/touchpoints/{touchpoint.id}"
    old_token = token_of(link_on_page(signed_in.get(url).get_data(as_text=True)))
    post(signed_in, f"{url}/revoke", page=url)

    response = post(signed_in, f"{url}/reissue", page=url, follow_redirects=True)

    new_token = token_of(link_on_page(response.get_data(as_text=True)))
    db.session.expire_all()
    assert read_client_link(new_token).state == LinkState.VALID
    assert read_client_link(old_token).state == LinkState.REPLACED


def test_htmx_actions_return_the_send_component_only(signed_in, touchpoint):
    url = f"/touchpoints/{touchpoint.id}"
    response = post(signed_in, f"{url}/sent", page=url, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="touchpoint-send"' in html and "<html" not in html
    assert "Marked as sent" in html
    assert "HX-Request" in response.headers["Vary"]
    # No flash is left behind for some later page.
    assert "Marked as sent. It moves" not in signed_in.get("/touchpoints/").get_data(as_text=True)


def test_htmx_refused_email_explains_inside_the_component(signed_in, contact, touchpoint):
    contact.email = ""
    db.session.commit()
    url = f"/touchpoints/{touchpoint.id}"
    response = post(signed_in, f"{url}/email", page=url, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "There is no email address for Ann Lee" in response.get_data(as_text=True)


def test_cancel_takes_it_off_the_list_and_restore_puts_it_back(signed_in, touchpoint):
    tp_id = touchpoint.id
    url = f"/touchpoints/{tp_id}"
    post(signed_in, f"{url}/cancel", page=url)
    assert fresh(Touchpoint, tp_id).state == TouchpointState.CANCELLED
    assert "Ann Lee" not in signed_in.get("/touchpoints/").get_data(as_text=True)
    assert "Ann Lee" in signed_in.get("/touchpoints/?show=cancelled").get_data(as_text=True)
    settled()
    post(signed_in, f"{url}/email", page=url)
    assert count_rows(OutboundEmail) == 0

    post(signed_in, f"{url}/restore", page=url)
    assert fresh(Touchpoint, tp_id).state == TouchpointState.PLANNED


def test_text_people_typed_is_escaped_on_the_page_and_in_the_email(signed_in, user):
    evil = "<script>alert('x')</script>"
    contact = make_contact(user, name=f"Eve {evil}", email="eve@example.net")
    touchpoint = make_touchpoint(contact, value_offered=f"Value {evil}")
    touchpoint.message = f"Hello {evil}\n\nBye"
    db.session.commit()
    url = f"/touchpoints/{touchpoint.id}"

    for page in (url, "/touchpoints/"):
        html = signed_in.get(page).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "&lt;script&gt;" in html

    post(signed_in, f"{url}/email", page=url)
    email = db.session.scalar(sa.select(OutboundEmail))
    assert "<script>alert" not in email.body_html
    assert "&lt;script&gt;alert" in email.body_html
    assert evil in email.body_text  # plain text stays as typed


# --- Another professional's touchpoints ---------------------------------------------------

ACTIONS = ["email", "sent", "revoke", "reissue", "cancel", "restore"]


def test_another_professionals_touchpoint_page_is_404(signed_in, other_touchpoint):
    assert signed_in.get(f"/touchpoints/{other_touchpoint.id}").status_code == 404


@pytest.mark.parametrize("action", ["", *(f"/{a}" for a in ACTIONS)])
def test_actions_on_another_professionals_touchpoint_are_404(signed_in, other_touchpoint, action):
    tp_id = other_touchpoint.id
    before = (other_touchpoint.state, other_touchpoint.link_version, other_touchpoint.message)
    data = {"due_on": "2030-01-01", "ask_count": 2, "message": "hijacked", "save": "1"}
    response = post(signed_in, f"/touchpoints/{tp_id}{action}", data, page="/touchpoints/")
    assert response.status_code == 404
    saved = fresh(Touchpoint, tp_id)
    assert (saved.state, saved.link_version, saved.message) == before
    assert count_rows(OutboundEmail) == 0


def test_touchpoint_pages_need_sign_in(client, ctx):
    response = client.get("/touchpoints/")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_contact_lookup_for_unknown_contact_is_404(signed_in):
    assert signed_in.get("/touchpoints/new?contact_id=999999").status_code == 404
    assert signed_in.get("/touchpoints/new?contact_id=abc").status_code == 404
    assert count_rows(Contact) == 0
