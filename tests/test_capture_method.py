"""The referrer's form, the method's way: named questions about known connections, framing
by source kind, the short form for friends and family, vendors, agreed terms, and the
words to say on the form and the thank-you page."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa

from app.connections.queries import connections_to_ask
from app.extensions import db
from app.models import (
    Connection,
    ConnectionStatus,
    Contact,
    ContactKind,
    IntroMethod,
    KindWording,
    OutboundEmail,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    utcnow,
)
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_touchpoint, make_user
from tests.test_capture import (
    emails,
    form_data,
    fresh,
    get,
    html_of,
    link,
    open_form,
    person,
    post,
    rows,
    settled,
)

EVIL = '<script>alert("x")</script>'
QUESTION = "Would you be comfortable introducing Dana to {}?"


def make_connection(contact, **fields) -> Connection:
    fields.setdefault("name", "David Jones")
    fields.setdefault("organisation", "Acme")
    connection = Connection(user_id=contact.user_id, contact_id=contact.id, **fields)
    db.session.add(connection)
    db.session.commit()
    return connection


def named(connection, answer: str | None, method: str | None = None, need: str | None = None):
    """A named question's answer as the browser posts it."""
    prefix = f"named-{connection.id}-"
    data = {}
    if answer is not None:
        data[f"{prefix}answer"] = answer
    if method is not None:
        data[f"{prefix}intro_method"] = method
    if need is not None:
        data[f"{prefix}need"] = need
    return data


def vendor(index: int, **fields) -> dict:
    values = {
        "name": f"Vendor {index} Person",
        "company": "Ledger & Co",
        "what": "Our bookkeeping",
        "reach": f"vendor{index}@example.org",
        "consent": "y",
    }
    values.update(fields)
    return {f"vendors-{index}-{k}": v for k, v in values.items() if v is not None}


def blank(index: int) -> dict:
    return person(index, name="", email="", how_known="", need="", consent=None)


def referrals() -> list[Referral]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Referral).order_by(Referral.position)))


@contextmanager
def counted(kind: str):
    """Count SQL statements ("sql") or commits ("commit") on the engine meanwhile."""
    seen = []
    if kind == "sql":
        name, listener = "before_cursor_execute", lambda *args: seen.append(args[2])
    else:
        name, listener = "commit", lambda *args: seen.append(1)
    sa.event.listen(db.engine, name, listener)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, name, listener)


@pytest.fixture
def contact(user):
    return make_contact(user, name="Jamie Client", email="jamie@example.net")


@pytest.fixture
def touchpoint(contact):
    touchpoint = make_touchpoint(contact)
    touchpoint.mark_sent()
    db.session.commit()
    return touchpoint


@pytest.fixture
def url(touchpoint) -> str:
    return link(touchpoint)


@pytest.fixture
def two(contact):
    """Two known connections, the second with how the professional knows of it."""
    return (
        make_connection(contact),
        make_connection(
            contact,
            name="Priya Shah",
            organisation="",
            how_known="You mentioned Priya runs the clinic next door.",
        ),
    )


# The named questions


def test_each_connection_not_asked_yet_is_a_named_question(client, url, contact, two):
    david, priya = two
    make_connection(contact, name="Said Later", status=ConnectionStatus.NOT_NOW)
    make_connection(contact, name="Said Yes", status=ConnectionStatus.YES)
    make_connection(contact, name="Barely Knows", status=ConnectionStatus.DONT_KNOW_WELL)
    other = make_contact(contact.user, name="Other Client")
    make_connection(other, name="Not Jamies")

    html = html_of(get(client, url))
    assert QUESTION.format("David Jones at Acme").replace("'", "&#39;") in html
    assert QUESTION.format("Priya Shah") in html
    assert "You mentioned Priya runs the clinic next door." in html
    for name in ("Said Later", "Said Yes", "Barely Knows", "Not Jamies"):
        assert name not in html
    # Before the free-form rows, with the three answers and none chosen.
    assert html.index("David Jones") < html.index('id="person-0"')
    for value, label in (("yes", "Yes"), ("not_now", "Not now"), ("dont_know_well", "know them")):
        assert f'name="named-{david.id}-answer" type="radio" value="{value}"' in html
        assert label in html
    assert not re.search(rf'checked[^>]*name="named-{david.id}-answer"', html)
    # "Yes" offers the introduction methods, the referrer introducing by default.
    assert re.search(
        rf'<input checked id="named-{david.id}-intro_method-0"[^>]*value="referrer_introduces"',
        html,
    )
    assert f'name="named-{priya.id}-need"' in html
    assert rows(html) == [0, 1]


def test_no_question_when_there_is_no_connection_to_ask(client, url, contact):
    make_connection(contact, status=ConnectionStatus.NOT_NOW)
    html = html_of(get(client, url))
    assert "named-" not in html and "you might introduce" not in html


def test_a_yes_and_a_person_make_two_referrals_in_one_commit(
    client, url, touchpoint, contact, two, app
):
    david, priya = two
    csrf, key = open_form(client, url)
    data = form_data(
        csrf,
        key,
        named(david, "yes", IntroMethod.MEET_TOGETHER.value, "Their <b>payroll</b> & taxes"),
        named(priya, None),
        person(0, name="Lee Friend"),
        blank(1),
    )
    settled()
    with counted("commit") as commits:
        response = client.post(url, data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{url}/thanks?s={key}"
    assert len(commits) == 1

    made = referrals()
    assert [(r.name, r.position) for r in made] == [("David Jones", 0), ("Lee Friend", 1)]
    yes = made[0]
    assert yes.connection_id == david.id
    assert yes.intro_method == IntroMethod.MEET_TOGETHER
    assert yes.need == "Their <b>payroll</b> & taxes"
    assert yes.how_known == "At Acme."
    assert (yes.email, yes.phone) == ("", "")
    assert yes.consent_at is not None
    assert yes.consent_notice_version == app.config["CONSENT_NOTICE_VERSION"]
    assert yes.submission_key == key and yes.touchpoint_id == touchpoint.id
    assert yes.status == ReferralStatus.NEW and not yes.is_vendor
    assert made[1].connection_id is None

    said_yes = fresh(Connection, david.id)
    assert said_yes.status == ConnectionStatus.YES
    assert said_yes.asked_at is not None and said_yes.touchpoint_id == touchpoint.id
    unanswered = fresh(Connection, priya.id)
    assert unanswered.status == ConnectionStatus.NOT_ASKED and unanswered.asked_at is None
    assert count_rows(ReferralEvent) == 2
    assert [e.template for e in emails()] == ["referrer_thanks", "new_referrals"]
    assert "David Jones" in emails("new_referrals")[0].body_text
    assert fresh(Touchpoint, touchpoint.id).state == TouchpointState.ANSWERED

    thanks = html_of(get(client, response.headers["Location"]))
    assert "David Jones" in thanks and "Lee Friend" in thanks
    assert "Dana will suggest a time for the three of you to meet." in thanks


def test_replaying_answers_changes_nothing(client, url, two):
    david, priya = two
    csrf, key = open_form(client, url)
    data = form_data(csrf, key, named(david, "yes"), named(priya, "not_now"), person(0), blank(1))
    first = post(client, url, data)
    answered_at = fresh(Connection, priya.id).asked_at
    again = post(client, url, data)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert count_rows(Referral) == 2
    assert count_rows(OutboundEmail) == 2
    assert fresh(Connection, priya.id).asked_at == answered_at


def test_a_yes_given_in_another_tab_meanwhile_is_left_out_of_this_submission(client, url, two):
    """Two tabs of one link, two submissions: the second finds its yes already given
    (after it read the form), saves only its own people and thanks for only them."""
    david, priya = two
    first_tab, second_tab = open_form(client, url), open_form(client, url)
    post(client, url, form_data(*first_tab, named(david, "yes"), person(0, name="Lee Friend")))
    response = post(
        client, url, form_data(*second_tab, named(david, "yes"), person(0, name="Mo Partner"))
    )
    assert response.status_code == 303
    assert sorted(r.name for r in referrals()) == ["David Jones", "Lee Friend", "Mo Partner"]
    later_thanks = emails("referrer_thanks")[-1]
    assert "Mo Partner" in later_thanks.body_text and "David Jones" not in later_thanks.body_text
    later_news = emails("new_referrals")[-1]
    assert "Mo Partner" in later_news.body_text and "David Jones" not in later_news.body_text
    assert count_rows(OutboundEmail) == 4


def test_only_named_answers_no_person_is_a_valid_answer(client, url, touchpoint, two):
    david, priya = two
    csrf, key = open_form(client, url)
    data = form_data(
        csrf, key, named(david, "not_now"), named(priya, "dont_know_well"), blank(0), blank(1)
    )
    response = post(client, url, data)
    assert response.status_code == 303
    assert count_rows(Referral) == 0
    assert count_rows(OutboundEmail) == 0  # nobody named: nothing to email about
    later, barely = fresh(Connection, david.id), fresh(Connection, priya.id)
    assert (
        later.status == ConnectionStatus.NOT_NOW
        and barely.status == ConnectionStatus.DONT_KNOW_WELL
    )
    assert later.touchpoint_id == barely.touchpoint_id == touchpoint.id
    assert later.asked_at is not None and barely.asked_at is not None
    assert fresh(Touchpoint, touchpoint.id).state == TouchpointState.ANSWERED

    thanks = get(client, response.headers["Location"])
    html = html_of(thanks)
    assert thanks.status_code == 200
    assert "Thank you, Jamie" in html
    assert "won&#39;t ask about David Jones again for a while" in html
    assert "won&#39;t ask you about Priya Shah again" in html
    assert "next-steps" not in html  # no people list

    # The same answers again (a double click) save nothing and land on the same page.
    again = post(client, url, data)
    assert again.status_code == 303 and again.headers["Location"] == response.headers["Location"]
    assert fresh(Connection, david.id).asked_at == later.asked_at


def test_an_empty_submission_still_asks_for_someone(client, url, two):
    csrf, key = open_form(client, url)
    response = post(client, url, form_data(csrf, key, blank(0), blank(1)))
    assert response.status_code == 422
    assert "Please give their name." in html_of(response)
    assert count_rows(Referral) == 0
    assert all(fresh(Connection, c.id).status == ConnectionStatus.NOT_ASKED for c in two)


def test_a_problem_elsewhere_keeps_every_answer(client, url, two, touchpoint):
    david, priya = two
    touchpoint.ask_for_vendors = True
    db.session.commit()
    csrf, key = open_form(client, url)
    data = form_data(
        csrf,
        key,
        named(david, "yes", IntroMethod.DRAFT_FOR_REFERRER.value, "Needs a review & more"),
        named(priya, "not_now"),
        person(0, name="No Consent", consent=None),
        vendor(0, name="Kept Vendor", company="Kept & Co"),
    )
    response = post(client, url, data)
    html = html_of(response)
    assert response.status_code == 422
    assert "Please confirm they" in html
    assert re.search(rf'<input checked id="named-{david.id}-answer-0"', html)
    assert re.search(rf'<input checked id="named-{david.id}-intro_method-2"', html)
    assert "Needs a review &amp; more" in html
    assert re.search(rf'<input checked id="named-{priya.id}-answer-1"', html)
    assert 'value="No Consent"' in html
    assert 'value="Kept Vendor"' in html and 'value="Kept &amp; Co"' in html
    assert count_rows(Referral) == 0
    assert fresh(Connection, david.id).status == ConnectionStatus.NOT_ASKED


def test_adding_a_row_without_javascript_keeps_named_answers(client, url, two):
    david, _ = two
    csrf, key = open_form(client, url)
    data = form_data(csrf, key, named(david, "not_now"), person(0), action="add")
    html = html_of(post(client, url, data))
    assert rows(html) == [0, 1]
    assert re.search(rf'<input checked id="named-{david.id}-answer-1"', html)
    assert count_rows(Connection, Connection.status == ConnectionStatus.NOT_NOW) == 0


def test_an_answer_that_is_not_one_of_the_three_is_refused(client, url, two):
    david, _ = two
    csrf, key = open_form(client, url)
    response = post(client, url, form_data(csrf, key, named(david, "maybe"), person(0)))
    assert response.status_code == 422
    assert "David Jones: Choose yes, not now, or that you don" in html_of(response)
    assert count_rows(Referral) == 0


def test_answers_about_someone_elses_connection_are_ignored(client, url, contact):
    other_user = make_user("other@example.com")
    theirs = make_connection(make_contact(other_user), name="Not Yours")
    csrf, key = open_form(client, url)
    response = post(client, url, form_data(csrf, key, named(theirs, "yes"), person(0)))
    assert response.status_code == 303
    assert [r.name for r in referrals()] == ["Person 0 Example"]
    assert fresh(Connection, theirs.id).status == ConnectionStatus.NOT_ASKED


def test_not_now_is_not_asked_next_time_until_the_professional_asks_again(
    client, url, contact, two, auth
):
    david, priya = two
    csrf, key = open_form(client, url)
    post(client, url, form_data(csrf, key, named(david, "not_now"), person(0)))

    following = make_touchpoint(contact)
    next_form = html_of(get(client, link(following)))
    assert "David Jones" not in next_form
    assert QUESTION.format("Priya Shah") in next_form  # left unanswered: asked again

    settled()
    auth.login()
    token = csrf_from(client.get(f"/contacts/{contact.id}"))
    again = client.post(
        f"/contacts/{contact.id}/connections/{david.id}/ask-again", data={"csrf_token": token}
    )
    assert again.status_code == 303
    assert QUESTION.format("David Jones at Acme") in unescape(html_of(get(client, link(following))))


def test_the_form_costs_the_same_queries_for_many_connections(client, url, contact):
    make_connection(contact)
    get(client, url)  # the first opening writes; count the ones after it

    def queries() -> int:
        settled()
        with counted("sql") as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    few = queries()
    for n in range(8):
        make_connection(contact, name=f"Known Person{n}", how_known=f"Context {n}")
    many_html = html_of(get(client, url))
    assert many_html.count('class="named"') == 9
    assert queries() == few


def test_the_link_and_the_connections_it_names_are_read_in_one_statement(
    client, url, contact, user
):
    """The form page names the ten waiting connections first recorded (by date, then
    id: the same as asking the connections on their own), read with its link."""
    start = utcnow() - timedelta(days=30)
    # Recorded out of id order: the later ids are the earlier dates.
    for n in range(12):
        make_connection(contact, name=f"Known Person{n}", created_at=start - timedelta(hours=n))
    make_connection(contact, name="Asked Already", status=ConnectionStatus.YES)
    make_connection(make_contact(user, name="Other Contact"), name="Not Theirs")
    make_connection(
        make_contact(make_user(email="other@example.com"), name="Elsewhere"), name="Not Ours"
    )
    get(client, url)  # the first opening writes; count the pages after it
    settled()
    with counted("sql") as statements:
        html = html_of(get(client, url))
    assert len(statements) == 1
    named_in_order = re.findall(r"introducing Dana to (Known Person\d+)", unescape(html))
    assert named_in_order == [f"Known Person{n}" for n in range(11, 1, -1)]
    assert "Asked Already" not in html and "Not Theirs" not in html and "Not Ours" not in html

    # A posted form still reads them on its own (with any it answered).
    with client.application.test_request_context():
        queried = connections_to_ask(db.session.get(Contact, contact.id))
        assert [row.name for row in queried] == named_in_order


# Framing by source kind


def test_a_client_gets_the_client_framing(client, url):
    html = html_of(get(client, url))
    assert "Think of the people who" in html


def test_a_vendor_gets_the_vendor_framing(client, user):
    vendor_contact = make_contact(user, name="Val Vendor", kind=ContactKind.VENDOR)
    html = html_of(get(client, link(make_touchpoint(vendor_contact))))
    assert "You and Dana look after some of the same businesses." in html
    assert "that client is better served" in html
    assert "Think of the people who" not in html


def test_the_professionals_own_words_for_a_kind_win(client, user):
    db.session.add(
        KindWording(
            user_id=user.id,
            kind=ContactKind.VENDOR,
            ask_framing="We share clients & care about them.",
            value_proposition="keeps vendors' shared clients happy",
            blurb="Dana helps the businesses we both serve.",
        )
    )
    db.session.commit()
    vendor_contact = make_contact(user, name="Val Vendor", kind=ContactKind.VENDOR)
    client_contact = make_contact(user, name="Cal Client")
    vendor_html = html_of(get(client, link(make_touchpoint(vendor_contact))))
    assert "We share clients &amp; care about them." in vendor_html
    assert "look after some of the same businesses" not in vendor_html
    assert "Dana Reyes keeps vendors&#39; shared clients happy." in vendor_html
    assert "Dana helps the businesses we both serve." in vendor_html
    # Other kinds keep the defaults.
    client_html = html_of(get(client, link(make_touchpoint(client_contact))))
    assert "Think of the people who" in client_html
    assert "Dana Reyes helps dental practices cut their tax bill." in client_html


# Friends and family


@pytest.fixture
def friend_url(user):
    friend = make_contact(user, name="Fran Friend", kind=ContactKind.FRIEND_FAMILY)
    return link(make_touchpoint(friend))


def short(index: int, **fields) -> dict:
    values = {"name": f"Pal {index}", "reach": f"pal{index}@example.org", "need": "Tax help"}
    values["consent"] = "y"
    values.update(fields)
    return {f"people-{index}-{k}": v for k, v in values.items() if v is not None}


def test_friends_and_family_get_a_warmer_shorter_form(client, friend_url, user):
    connection = make_connection(make_contact(user, name="Unrelated"), name="Someone Else")
    html = html_of(get(client, friend_url))
    assert "Has anyone mentioned needing help like this?" in html
    assert 'name="people-0-reach"' in html and "Their email or phone number" in html
    assert 'name="people-0-email"' not in html and 'name="people-0-phone"' not in html
    assert 'name="people-0-how_known"' not in html
    assert 'name="people-0-intro_method"' not in html
    assert 'name="people-0-need"' in html and 'name="people-0-consent"' in html
    assert connection.name not in html


def test_a_friend_gives_one_way_to_reach_each_person(client, friend_url):
    csrf, key = open_form(client, friend_url)
    data = form_data(csrf, key, short(0), short(1, reach="+44 20 7946 0958", need=""))
    response = post(client, friend_url, data)
    assert response.status_code == 303
    made = referrals()
    assert [(r.email, r.phone) for r in made] == [
        ("pal0@example.org", ""),
        ("", "+44 20 7946 0958"),
    ]
    assert {r.intro_method for r in made} == {IntroMethod.MENTION_REFERRER}
    assert {r.how_known for r in made} == {""}


@pytest.mark.parametrize(
    ("reach", "message"),
    [
        ("", "Give an email or a phone number so Dana can reach them."),
        ("pal@", "That email address doesn"),
        ("call me", "Use digits, spaces and + ( ) - only"),
    ],
)
def test_a_friends_row_says_what_is_wrong_with_the_way_to_reach(client, friend_url, reach, message):
    csrf, key = open_form(client, friend_url)
    response = post(client, friend_url, form_data(csrf, key, short(0, reach=reach)))
    assert response.status_code == 422
    assert message in html_of(response)
    assert f'value="{reach}"' in html_of(response)


def test_friends_rows_added_and_checked_with_htmx_are_short_too(client, friend_url):
    added = html_of(get(client, f"{friend_url}/person?index=2", headers={"HX-Request": "true"}))
    assert 'name="people-2-reach"' in added and 'name="people-2-email"' not in added
    csrf, _ = open_form(client, friend_url)
    response = post(
        client,
        f"{friend_url}/validate",
        {"csrf_token": csrf, **short(0, reach="nope@")},
        headers={"HX-Request": "true", "HX-Trigger-Name": "people-0-reach"},
    )
    assert response.status_code == 200 and "That email address doesn" in html_of(response)


def test_a_friends_yes_is_not_asked_how(client, user):
    friend = make_contact(user, name="Fran Friend", kind=ContactKind.FRIEND_FAMILY)
    connection = make_connection(friend)
    friend_url = link(make_touchpoint(friend))
    html = html_of(get(client, friend_url))
    assert f'name="named-{connection.id}-answer"' in html
    assert f'name="named-{connection.id}-intro_method"' not in html
    csrf, key = open_form(client, friend_url)
    nobody = short(0, name="", reach="", need="", consent=None)
    response = post(client, friend_url, form_data(csrf, key, named(connection, "yes"), nobody))
    assert response.status_code == 303
    assert [(r.name, r.intro_method) for r in referrals()] == [
        ("David Jones", IntroMethod.REFERRER_INTRODUCES)
    ]


def test_the_full_form_still_checks_email_and_phone_inline(client, url):
    csrf, _ = open_form(client, url)
    response = post(
        client,
        f"{url}/validate",
        {"csrf_token": csrf, **person(0)},
        headers={"HX-Request": "true", "HX-Trigger-Name": "people-0-reach"},
    )
    assert response.status_code == 400


# Vendors


def test_no_vendor_section_unless_the_touchpoint_asks(client, url):
    html = html_of(get(client, url))
    assert "Who else helps run your business?" not in html
    csrf, key = open_form(client, url)
    post(client, url, form_data(csrf, key, person(0), vendor(0)))
    assert [r.is_vendor for r in referrals()] == [False]


def test_a_client_names_the_vendors_who_help_run_their_business(client, url, touchpoint):
    touchpoint.ask_for_vendors = True
    db.session.commit()
    html = html_of(get(client, url))
    assert "Who else helps run your business?" in html
    assert 'name="vendors-0-company"' in html and 'name="vendors-1-reach"' in html

    csrf, key = open_form(client, url)
    data = form_data(
        csrf, key, person(0, name="Lee Friend"), vendor(0), vendor(1, reach="020 7946 0000")
    )
    response = post(client, url, data)
    assert response.status_code == 303
    made = referrals()
    assert [(r.name, r.is_vendor) for r in made] == [
        ("Lee Friend", False),
        ("Vendor 0 Person", True),
        ("Vendor 1 Person", True),
    ]
    first = made[1]
    assert (first.email, first.phone) == ("vendor0@example.org", "")
    assert (made[2].email, made[2].phone) == ("", "020 7946 0000")
    assert first.intro_method == IntroMethod.MENTION_REFERRER
    assert (first.how_known, first.need) == ("Ledger & Co", "Our bookkeeping")
    assert first.consent_at is not None

    thanks = html_of(get(client, response.headers["Location"]))
    people, helpers = thanks.split("The people who help run your business", 1)
    assert "Lee Friend" in people and "Vendor 0 Person" not in people
    assert "Vendor 0 Person" in helpers and "Ledger &amp; Co" in helpers

    # The professional's notice keeps the vendors apart from the people.
    notice = db.session.scalar(
        sa.select(OutboundEmail).where(OutboundEmail.template == "new_referrals")
    )
    assert notice.subject.endswith("introduced you to 1 person and 2 vendors")
    for body in (notice.body_text, notice.body_html):
        people_part, vendor_part = body.split("also named 2 vendors", 1)
        assert "Lee Friend" in people_part and "Vendor 0 Person" not in people_part
        assert "Vendor 1 Person" in vendor_part and "What they do" in vendor_part


def test_vendors_alone_are_a_valid_answer_and_a_half_filled_row_is_checked(client, url, touchpoint):
    touchpoint.ask_for_vendors = True
    db.session.commit()
    csrf, key = open_form(client, url)
    partial = post(client, url, form_data(csrf, key, blank(0), vendor(0, reach="", consent=None)))
    html = html_of(partial)
    assert partial.status_code == 422
    assert "Someone who helps you: Give an email or a phone number" in html
    assert "Someone who helps you: Please confirm" in html

    response = post(client, url, form_data(csrf, key, blank(0), blank(1), vendor(0)))
    assert response.status_code == 303
    assert [(r.name, r.is_vendor) for r in referrals()] == [("Vendor 0 Person", True)]
    thanks = html_of(get(client, response.headers["Location"]))
    assert "has the names of the people who help run your business" in thanks


# Agreed terms


def test_the_form_reminds_the_referrer_of_the_agreed_terms(client, url, contact):
    contact.terms_what_counts = "Someone with a real need, not a name from a phone book."
    contact.terms_how_many = 2
    contact.terms_in_return = "A free quarterly review."
    db.session.commit()
    html = unescape(html_of(get(client, url)))
    assert (
        "As we agreed, an introduction is someone with a real need, not a name from a phone "
        "book; Dana hoped for two, and in return you get a free quarterly review."
    ) in html


@pytest.mark.parametrize(
    ("what", "how_many", "in_return", "expected"),
    [
        ("", None, "", None),
        ("A practice owner", None, "", "As we agreed, an introduction is a practice owner."),
        ("", 1, "", "As we agreed, Dana hoped for one introduction."),
        ("", 3, "", "As we agreed, Dana hoped for three introductions."),
        ("", None, "a thank-you", "As we agreed, in return for your introductions you get a"),
        ("Owners", 2, "", "As we agreed, an introduction is owners, and Dana hoped for two."),
        ("Owners", None, "a review", "an introduction is owners, and in return you get a review."),
        ("", 2, "send you my notes", "Dana hoped for two introductions, and in return promised:"),
        ("", None, "Send you a review", "for your introductions Dana will send you a review."),
    ],
)
def test_the_terms_sentence_reads_well_whatever_was_agreed(
    client, url, contact, what, how_many, in_return, expected
):
    contact.terms_what_counts, contact.terms_how_many = what, how_many
    contact.terms_in_return = in_return
    db.session.commit()
    html = unescape(html_of(get(client, url)))
    if expected is None:
        assert "As we agreed" not in html
    else:
        assert expected in html
        assert html.count("As we agreed") == 1


# Words to say


def test_words_to_say_on_the_form_and_thanks_with_copy_and_forward(client, url, user):
    user.blurb = "Dana Reyes helps dental practices.\nCafé owners & dentists:\n\nget in touch?"
    db.session.commit()
    csrf, key = open_form(client, url)
    response = post(client, url, form_data(csrf, key, person(0)))
    pages = [html_of(get(client, url)), html_of(get(client, response.headers["Location"]))]
    for html in pages:
        assert "Dana Reyes helps dental practices cut their tax bill." in html
        assert (
            '<div class="blurb" id="blurb">Dana Reyes helps dental practices.\n'
            "Café owners &amp; dentists:\n\nget in touch?</div>"
        ) in html
        assert 'data-copy="#blurb"' in html
        href = unescape(re.search(r'<a href="(mailto:[^"]*)">Forward by email</a>', html).group(1))
        parts = urlsplit(href)
        assert parts.path == "" and not any(ch in parts.query for ch in " \n\r")
        fields = parse_qs(parts.query, keep_blank_values=True)
        assert fields["subject"] == ["Meet Dana Reyes of Reyes Advisory"]
        assert fields["body"] == [
            "Dana Reyes helps dental practices.\r\nCafé owners & dentists:\r\n\r\nget in touch?"
        ]
        assert "%C3%A9" in href and "%26" in href and "%0D%0A" in href
        assert unquote(href).count("&") == 2  # the field separator, and the blurb's own


def test_without_a_blurb_the_line_is_what_is_forwarded(client, url):
    html = html_of(get(client, url))
    assert 'data-copy="#say-line"' in html
    href = unescape(re.search(r'<a href="(mailto:[^"]*)">Forward by email</a>', html).group(1))
    assert parse_qs(urlsplit(href).query)["body"] == [
        "Dana Reyes helps dental practices cut their tax bill."
    ]


# Escaping


def test_script_is_text_everywhere_on_the_referrers_pages(client, url, contact, user, touchpoint):
    contact.terms_what_counts = EVIL
    contact.terms_in_return = EVIL
    contact.terms_how_many = 2
    user.blurb = EVIL
    user.value_proposition = EVIL
    user.business_name = EVIL
    touchpoint.ask_for_vendors = True
    db.session.add(KindWording(user_id=user.id, kind=ContactKind.CLIENT, ask_framing=EVIL))
    db.session.commit()
    evil_one = make_connection(contact, name=EVIL, organisation=EVIL, how_known=EVIL)
    evil_two = make_connection(contact, name=f"Two {EVIL}")

    csrf, key = open_form(client, url)
    invalid = post(
        client,
        url,
        form_data(
            csrf,
            key,
            named(evil_one, "yes", need=EVIL),
            blank(0),
            vendor(0, name=EVIL, consent=None),
        ),
    )
    assert invalid.status_code == 422
    sent = post(
        client,
        url,
        form_data(
            csrf,
            key,
            named(evil_one, "yes", need=EVIL),
            named(evil_two, "not_now"),
            person(0, name=EVIL),
            vendor(0, name=EVIL, company=EVIL, what=EVIL),
        ),
    )
    assert sent.status_code == 303
    pages = [invalid, get(client, sent.headers["Location"]), get(client, url)]
    for page in pages:
        html = html_of(page)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert" in html
    mailto = re.search(r'href="(mailto:[^"]*)"', html_of(pages[1])).group(1)
    assert "<" not in mailto and "%3Cscript%3E" in mailto
    for email in emails():
        assert "<script>alert" not in email.body_html
