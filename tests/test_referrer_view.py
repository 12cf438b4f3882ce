"""The referrer's view at /r/<token>: the people they introduced, and how often they hear.

What the referrer sees is only what the professional chose to tell them: the
status of the latest step that went into an update, that update's words, and
never a private note or a step the professional kept to themselves.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Contact, Referral, ReferralStatus, UpdatePreference, utcnow
from app.referrals.updates import (
    add_heads_up,
    add_thanks,
    record_status_change,
    skip_update,
    tell_referrer,
)
from app.tokens import client_link_token
from tests.conftest import csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

PERSON = re.compile(r"<h3>(.*?)</h3>")
SUBMISSION_KEY = re.compile(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"')


def settled():
    """End the test's transaction so the app's request can take SQLite's write lock."""
    db.session.rollback()


def get(client, url, **kwargs):
    settled()
    return client.get(url, **kwargs)


def post(client, url, data, **kwargs):
    settled()
    return client.post(url, data=data, **kwargs)


def link(touchpoint) -> str:
    return f"/r/{client_link_token(touchpoint)}"


def html_of(response) -> str:
    return response.get_data(as_text=True)


def people_on(html: str) -> list[str]:
    """The names listed under "The people you've introduced", in page order."""
    if "The people you've introduced" not in html:
        return []
    return PERSON.findall(html)


def card(html: str, name: str) -> str:
    """The list item of one person."""
    match = re.search(
        r'<li class="introduced-person">\s*<h3>' + re.escape(name) + r"</h3>(.*?)</li>", html, re.S
    )
    assert match, f"{name} is not listed"
    return match.group(1)


def step(referral, status, message=None, *, days_ago=0, note="", pending=False):
    """Move a referral on; tell the referrer ``message``, or skip (or leave pending) the update."""
    when = utcnow() - timedelta(days=days_ago)
    event = record_status_change(referral, status, author="Dana Reyes", note=note, now=when)
    db.session.flush()
    if message is not None:
        tell_referrer(event, message, now=when)
    elif not pending:
        skip_update(event)
    db.session.commit()
    return event


@pytest.fixture
def contact(user):
    return make_contact(user, name="Jamie Client", email="jamie@example.net")


@pytest.fixture
def touchpoint(contact):
    touchpoint = make_touchpoint(contact)
    touchpoint.mark_sent()
    touchpoint.answered_at = utcnow()
    db.session.commit()
    return touchpoint


@pytest.fixture
def url(touchpoint) -> str:
    return link(touchpoint)


def introduce(contact, touchpoint=None, *, name, days_ago=0, **fields):
    return make_referral(
        contact, touchpoint, name=name, created_at=utcnow() - timedelta(days=days_ago), **fields
    )


# What the list shows


def test_each_person_shows_the_latest_step_told_and_its_update(client, contact, touchpoint, url):
    ann = introduce(contact, touchpoint, name="Ann Meeting", days_ago=9)
    step(ann, ReferralStatus.CONTACTED, "I've called Ann.", days_ago=8)
    step(ann, ReferralStatus.MEETING_SET, "Ann and I meet on Tuesday.", days_ago=3)
    introduce(contact, touchpoint, name="Bob Waiting", days_ago=5)
    cat = introduce(contact, touchpoint, name="Cat Client", days_ago=4)
    step(cat, ReferralStatus.WON, "Cat is now a client. Thank you!", days_ago=1)

    html = html_of(get(client, url))
    assert people_on(html) == ["Cat Client", "Bob Waiting", "Ann Meeting"]  # newest first

    ann_card = card(html, "Ann Meeting")
    assert "Meeting arranged" in ann_card
    assert "Ann and I meet on Tuesday." in ann_card
    assert "I&#39;ve called Ann." not in ann_card  # only the latest update
    told_on = (utcnow() - timedelta(days=3)).date()
    assert f'<time datetime="{told_on.isoformat()}">' in ann_card
    assert "Latest from Dana" in ann_card

    bob_card = card(html, "Bob Waiting")
    assert "With Dana" in bob_card
    assert "Latest from" not in bob_card

    assert "Working with Dana" in card(html, "Cat Client")
    assert "Cat is now a client. Thank you!" in card(html, "Cat Client")


def test_steps_the_professional_did_not_tell_stay_invisible(client, contact, touchpoint, url):
    told = introduce(contact, touchpoint, name="Told Then Skipped")
    step(told, ReferralStatus.CONTACTED, "We've spoken.", days_ago=4)
    step(told, ReferralStatus.NOT_A_FIT, days_ago=1)  # skipped: not told
    pending = introduce(contact, touchpoint, name="Still Pending")
    step(pending, ReferralStatus.WON, pending=True)  # the professional has not decided yet
    quiet = introduce(contact, touchpoint, name="Never Told")
    step(quiet, ReferralStatus.CONTACTED, days_ago=2)
    step(quiet, ReferralStatus.NO_RESPONSE, days_ago=1)

    html = html_of(get(client, url))
    told_card = card(html, "Told Then Skipped")
    assert "Dana has been in touch" in told_card and "We&#39;ve spoken." in told_card
    assert "With Dana" in card(html, "Still Pending")
    assert "With Dana" in card(html, "Never Told")
    for hidden in ("Not the right fit", "Working with Dana", "Waiting to hear back"):
        assert hidden not in html


def test_a_heads_up_or_thanks_is_the_latest_update_without_changing_the_status(
    client, contact, touchpoint, url
):
    ann = introduce(contact, touchpoint, name="Ann Example")
    step(ann, ReferralStatus.CONTACTED, "I've been in touch.", days_ago=3)
    add_heads_up(
        ann, "Ann missed our call; I've offered a new time.", author="Dana", note="She was rude"
    )
    db.session.commit()
    html = card(html_of(get(client, url)), "Ann Example")
    assert "Dana has been in touch" in html
    assert "Ann missed our call; I&#39;ve offered a new time." in html
    assert "I&#39;ve been in touch." not in html

    add_thanks(ann, "Thank you for thinking of me.", author="Dana")
    db.session.commit()
    assert "Thank you for thinking of me." in card(html_of(get(client, url)), "Ann Example")


def test_private_notes_never_appear(client, contact, touchpoint, url, app):
    ann = introduce(contact, touchpoint, name="Ann Example")
    step(ann, ReferralStatus.CONTACTED, "Spoke to Ann.", note="PRIVATE-status-note", days_ago=2)
    ann.add_note("PRIVATE-plain-note", author="Dana")
    db.session.commit()
    add_heads_up(ann, "A small hiccup, sorted.", author="Dana", note="PRIVATE-heads-up-note")
    db.session.commit()

    pages = [html_of(get(client, url))]
    app.config["CLIENT_LINK_MAX_AGE"] = -1
    pages.append(html_of(get(client, url)))  # the expired page lists people too
    for html in pages:
        assert "Ann Example" in html and "A small hiccup, sorted." in html
        assert "PRIVATE" not in html


def test_text_people_typed_is_escaped(client, contact, touchpoint, url):
    evil = '<script>alert("x")</script>'
    person = introduce(contact, touchpoint, name=f"Eve {evil}")
    step(person, ReferralStatus.CONTACTED, f"Hello {evil}")
    html = html_of(get(client, url))
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 2


def test_people_named_through_any_of_the_contacts_links_and_nobody_elses(
    client, user, contact, touchpoint, url
):
    introduce(contact, touchpoint, name="Through This Link", days_ago=1)
    earlier = make_touchpoint(contact, due_on=touchpoint.due_on - timedelta(days=91))
    introduce(contact, earlier, name="Through An Earlier Link", days_ago=100)
    introduce(contact, None, name="Added By Hand", days_ago=50)
    introduce(make_contact(user, name="Other Client"), name="Someone Elses Friend")
    stranger = make_user(email="other@example.com")
    introduce(make_contact(stranger), name="Another Professionals Referral")

    html = html_of(get(client, url))
    assert people_on(html) == ["Through This Link", "Added By Hand", "Through An Earlier Link"]
    assert "Someone Elses Friend" not in html
    assert "Another Professionals Referral" not in html


def test_the_list_stops_at_fifty_and_says_so(client, contact, touchpoint, url):
    db.session.add_all(
        Referral(
            user_id=contact.user_id,
            contact_id=contact.id,
            touchpoint_id=touchpoint.id,
            name=f"Person {n:02d}",
            email=f"p{n}@example.org",
            created_at=utcnow() - timedelta(minutes=100 - n),
        )
        for n in range(52)
    )
    db.session.commit()
    html = html_of(get(client, url))
    names = people_on(html)
    assert len(names) == 50
    assert names[0] == "Person 51" and names[-1] == "Person 02"
    assert "These are your 50 most recent introductions." in html


# Where the list shows, and where it does not


def test_before_anyone_is_named_the_page_only_asks(client, contact):
    touchpoint = make_touchpoint(contact)
    html = html_of(get(client, link(touchpoint)))
    assert "The people you've introduced" not in html
    assert "/updates" not in html
    assert 'type="radio" value="milestones"' in html  # the choice is part of the form


def test_an_answered_link_lists_the_people_then_asks_for_anyone_else(client, touchpoint, url):
    csrf_page = get(client, url)
    key = SUBMISSION_KEY.search(html_of(csrf_page))
    response = post(
        client,
        url,
        {
            "csrf_token": csrf_from(csrf_page),
            "submission_key": key.group(1),
            "update_preference": "milestones",
            "people-0-name": "Lee Friend",
            "people-0-email": "lee@example.org",
            "people-0-intro_method": "mention_referrer",
            "people-0-consent": "y",
        },
    )
    assert response.status_code == 303

    html = html_of(get(client, url))
    assert html.count("<h1") == 1
    assert people_on(html) == ["Lee Friend"]
    assert "With Dana" in card(html, "Lee Friend")
    listed, updates, ask = (
        html.index("The people you've introduced"),
        html.index('id="updates"'),
        html.index("Anyone else you've talked to"),
    )
    assert listed < updates < ask
    # The choice is made in its own small form; the referral form keeps it as it is.
    assert html.count('value="milestones"') == 2
    assert '<input type="hidden" name="update_preference" value="milestones">' in html
    assert re.search(r'<input checked id="update_preference-1"[^>]*value="milestones"', html)


def test_a_new_link_asks_first_and_shows_earlier_people_below(client, contact, touchpoint):
    introduce(contact, touchpoint, name="Named Last Quarter")
    newer = make_touchpoint(contact, ask_count=3)
    html = html_of(get(client, link(newer)))
    assert "Who are the three people" in html
    assert len(re.findall(r'<fieldset class="person"', html)) == 3
    assert html.index("Send to Dana</button>\n  </div>\n</form>") < html.index("Named Last Quarter")


def test_an_expired_link_still_shows_the_people_read_only(client, touchpoint, url, contact, app):
    ann = introduce(contact, touchpoint, name="Ann Example")
    step(ann, ReferralStatus.MEETING_SET, "We meet next week.")
    app.config["CLIENT_LINK_MAX_AGE"] = -1
    response = get(client, url)
    html = html_of(response)
    assert response.status_code == 410
    assert html.count("<h1") == 1
    assert "Meeting arranged" in card(html, "Ann Example") and "We meet next week." in html
    assert f'action="{url}/fresh-link"' in html and "Ask Dana for a new link" in html
    assert "expired" in html
    assert "people-0-name" not in html and "/updates" not in html


@pytest.mark.parametrize("change", ["revoke_link", "reissue_link"])
def test_a_revoked_or_replaced_link_shows_nobody(client, contact, touchpoint, url, change):
    ann = introduce(contact, touchpoint, name="Ann Example")
    step(ann, ReferralStatus.CONTACTED, "Spoke to Ann.")
    getattr(touchpoint, change)()
    db.session.commit()
    response = get(client, url)
    html = html_of(response)
    assert response.status_code == 410
    assert "Ann Example" not in html and "Spoke to Ann." not in html
    assert "The people you've introduced" not in html


# How often they hear


def test_the_referrer_changes_how_often_they_hear(client, contact, touchpoint, url):
    introduce(contact, touchpoint, name="Ann Example")
    page = get(client, url)
    response = post(
        client, f"{url}/updates", {"csrf_token": csrf_from(page), "update_preference": "milestones"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == url
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).update_preference == UpdatePreference.MILESTONES

    html = html_of(get(client, url))
    assert 'role="status"' in html
    assert "Saved. Dana will tell you about the milestones" in html
    assert re.search(r'<input checked id="update_preference-1"[^>]*value="milestones"', html)


def test_with_htmx_the_section_comes_back_with_the_confirmation(client, contact, touchpoint, url):
    introduce(contact, touchpoint, name="Ann Example")
    page = get(client, url)
    response = post(
        client,
        f"{url}/updates",
        {"csrf_token": csrf_from(page), "update_preference": "none"},
        headers={"HX-Request": "true"},
    )
    html = html_of(response)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<section class="updates" id="updates"')
    assert 'role="status"' in html and "You asked for no updates, so Dana won" in html
    assert re.search(r'<input checked id="update_preference-2"[^>]*value="none"', html)
    assert "HX-Request" in response.headers["Vary"]
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).update_preference == UpdatePreference.NONE


@pytest.mark.parametrize("value", ["sometimes", ""])
@pytest.mark.parametrize("htmx", [False, True])
def test_a_choice_that_is_not_offered_is_refused(client, contact, touchpoint, url, value, htmx):
    introduce(contact, touchpoint, name="Ann Example")
    page = get(client, url)
    data = {"csrf_token": csrf_from(page)}
    if value:
        data["update_preference"] = value
    headers = {"HX-Request": "true"} if htmx else {}
    response = post(client, f"{url}/updates", data, headers=headers)
    html = html_of(response)
    assert response.status_code == 422
    assert "Choose how often you&#39;d like to hear" in html
    assert 'aria-describedby="update_preference-error"' in html
    assert ("<html" in html) is not htmx
    if not htmx:
        assert "Ann Example" in html  # the whole page, with the list
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).update_preference == UpdatePreference.EVERY_STEP


def test_changing_how_often_needs_the_csrf_token(client, contact, touchpoint, url):
    response = post(client, f"{url}/updates", {"update_preference": "none"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).update_preference == UpdatePreference.EVERY_STEP


@pytest.mark.parametrize("problem", ["expired", "revoked", "forged"])
def test_only_a_working_link_changes_how_often(client, contact, touchpoint, url, app, problem):
    csrf = csrf_from(get(client, url))
    target = f"{url}/updates"
    if problem == "expired":
        app.config["CLIENT_LINK_MAX_AGE"] = -1
    elif problem == "revoked":
        touchpoint.revoke_link()
        db.session.commit()
    else:
        target = f"{url[:-2]}{'BB' if url.endswith('AA') else 'AA'}/updates"
    response = post(client, target, {"csrf_token": csrf, "update_preference": "none"})
    assert response.status_code == (404 if problem == "forged" else 410)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).update_preference == UpdatePreference.EVERY_STEP


def test_htmx_on_an_expired_link_reloads_the_page(client, touchpoint, url, app):
    csrf = csrf_from(get(client, url))
    app.config["CLIENT_LINK_MAX_AGE"] = -1
    response = post(
        client,
        f"{url}/updates",
        {"csrf_token": csrf, "update_preference": "none"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 410
    assert response.headers["HX-Refresh"] == "true"


def test_an_unsubscribed_referrer_is_told_no_email_will_reach_them(client, contact, touchpoint):
    introduce(contact, touchpoint, name="Ann Example")
    contact.unsubscribed_at = utcnow()
    db.session.commit()
    html = html_of(get(client, link(touchpoint)))
    assert "You unsubscribed from emails from Dana" in html
    assert re.search(r'<a href="/u/[^"]+">Get emails from Dana again</a>', html)


# Speed


@contextmanager
def counted_queries():
    """Every SQL statement the app sends (not the BEGINs around them)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def queries_for(client, url) -> int:
    settled()
    with counted_queries() as statements:
        assert client.get(url).status_code in (200, 410)
    return len(statements)


@pytest.mark.parametrize("expired", [False, True])
def test_the_number_of_queries_does_not_grow_with_the_people(
    client, contact, touchpoint, url, app, expired
):
    first = introduce(contact, touchpoint, name="Person First")
    step(first, ReferralStatus.CONTACTED, "Spoke to them.")
    if expired:
        app.config["CLIENT_LINK_MAX_AGE"] = -1
    get(client, url)  # the first opening writes once; count the pages after it
    few = queries_for(client, url)
    for n in range(12):
        person = introduce(contact, touchpoint, name=f"Person {n}")
        step(person, ReferralStatus.CONTACTED, f"Spoke to person {n}.", days_ago=2)
        step(person, ReferralStatus.MEETING_SET, f"Meeting person {n}.", days_ago=1)
    many = queries_for(client, url)
    assert many == few
    assert len(people_on(html_of(get(client, url)))) == 13


def test_until_someone_is_introduced_the_page_does_not_look_for_them(
    client, contact, touchpoint, url
):
    """The link's own query says whether the contact introduced anyone: a first-time
    referrer's page reads no referral row, and the first person makes the list appear."""
    get(client, url)  # the first opening writes once; count the pages after it
    with counted_queries() as statements:
        assert get(client, url).status_code == 200
    assert statements  # the link's own
    assert not [sql for sql in statements if sql.lstrip().startswith("SELECT referral.")]
    introduce(contact, touchpoint, name="Person First")
    assert people_on(html_of(get(client, url))) == ["Person First"]
