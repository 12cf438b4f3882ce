"""The referrer's side: the signed link, the one-minute form, and what a submission does."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app.extensions import db
from app.models import (
    IntroMethod,
    OutboundEmail,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    UpdatePreference,
    utcnow,
)
from app.tokens import client_link_token
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

SUBMISSION_KEY = re.compile(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"')
PERSON_ROW = re.compile(r'<fieldset class="person" id="person-(\d+)">')


# Helpers: every request starts after the test's own transaction has ended, so the
# app can take SQLite's write lock (test code outside a request begins IMMEDIATE).


def settled():
    db.session.rollback()


def get(client, url, **kwargs):
    settled()
    return client.get(url, **kwargs)


def post(client, url, data, **kwargs):
    settled()
    return client.post(url, data=data, **kwargs)


def fresh(model, ident):
    """The row as the app left it."""
    db.session.expire_all()
    return db.session.get(model, ident)


def link(touchpoint) -> str:
    return f"/r/{client_link_token(touchpoint)}"


def html_of(response) -> str:
    return response.get_data(as_text=True)


def rows(html: str) -> list[int]:
    return [int(index) for index in PERSON_ROW.findall(html)]


def person(index: int, **fields) -> dict:
    """One filled-in row as the browser posts it."""
    values = {
        "name": f"Person {index} Example",
        "email": f"person{index}@example.org",
        "phone": "",
        "how_known": "We play tennis",
        "need": "Wants help with payroll",
        "intro_method": IntroMethod.MENTION_REFERRER.value,
        "consent": "y",
    }
    values.update(fields)
    return {f"people-{index}-{name}": value for name, value in values.items() if value is not None}


def open_form(client, url) -> tuple[str, str]:
    """Open the link like a browser: the CSRF token and the submission key it carries."""
    page = get(client, url)
    assert page.status_code == 200, html_of(page)
    key = SUBMISSION_KEY.search(html_of(page))
    assert key, "form has no submission key"
    return csrf_from(page), key.group(1)


def form_data(csrf: str, key: str, *people: dict, **extra) -> dict:
    data = {"csrf_token": csrf, "submission_key": key, "update_preference": "every_step"}
    for row in people:
        data.update(row)
    data.update(extra)
    return data


def emails(template: str | None = None) -> list[OutboundEmail]:
    db.session.expire_all()
    query = sa.select(OutboundEmail).order_by(OutboundEmail.id)
    if template:
        query = query.where(OutboundEmail.template == template)
    return list(db.session.scalars(query))


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
def expired_links(app):
    """Every client link is past its age from now on."""
    app.config["CLIENT_LINK_MAX_AGE"] = -1


# Opening the link


def test_valid_link_shows_the_form_in_the_professionals_name(client, url):
    response = get(client, url)
    html = html_of(response)
    assert response.status_code == 200
    assert "Dana Reyes" in html and "Reyes Advisory" in html
    assert "We reviewed your quarter and found two savings." in html
    assert "Who are the two people you&#39;ve already talked to about working with Dana?" in html
    assert "Dana Reyes helps dental practices cut their tax bill." in html
    assert rows(html) == [0, 1]
    assert html.count("<h1") == 1
    # The referrer never sees the professional's navigation.
    assert 'aria-label="Main"' not in html and "Sign out" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # Nothing is loaded from other sites.
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_form_has_as_many_rows_as_the_ask(client, contact):
    touchpoint = make_touchpoint(contact, ask_count=3)
    html = html_of(get(client, link(touchpoint)))
    assert rows(html) == [0, 1, 2]
    assert "Who are the three people" in html


def test_the_referrers_current_update_preference_is_preselected(client, contact, url):
    contact.update_preference = UpdatePreference.MILESTONES
    db.session.commit()
    html = html_of(get(client, url))
    assert re.search(r'<input checked id="update_preference-\d" [^>]*value="milestones"', html)


@pytest.mark.parametrize("preference", list(UpdatePreference))
def test_the_first_showing_checks_the_current_preference_with_a_fresh_key(
    client, contact, url, preference
):
    """The form page first shows the referrer's current preference chosen (and no
    other), and a fresh submission key on every showing (forms.blank_referral_form)."""
    contact.update_preference = preference
    db.session.commit()
    first, second = html_of(get(client, url)), html_of(get(client, url))
    checked = re.findall(r'<input checked id="update_preference-\d" [^>]*value="(\w+)"', first)
    assert checked == [preference.value]
    assert len(re.findall(r'name="update_preference" type="radio"', first)) == len(UpdatePreference)
    keys = [
        re.search(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"', html).group(1)
        for html in (first, second)
    ]
    assert keys[0] != keys[1]


def test_opening_records_the_first_open_once_and_changes_nothing_else(client, url, touchpoint):
    assert get(client, url).status_code == 200
    first = fresh(Touchpoint, touchpoint.id)
    assert first.first_opened_at is not None
    assert first.state == TouchpointState.OPENED
    assert first.answered_at is None
    opened_at = first.first_opened_at

    assert get(client, url).status_code == 200
    again = fresh(Touchpoint, touchpoint.id)
    assert again.first_opened_at == opened_at
    assert count_rows(Referral) == 0
    assert count_rows(OutboundEmail) == 0


def test_opening_an_answered_link_keeps_it_answered(client, contact):
    touchpoint = make_touchpoint(contact, state=TouchpointState.ANSWERED)
    get(client, link(touchpoint))
    assert fresh(Touchpoint, touchpoint.id).state == TouchpointState.ANSWERED


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), lambda t: "not-a-token"]
)
def test_tampered_link_is_not_found(client, touchpoint, mangle):
    token = client_link_token(touchpoint)
    response = get(client, f"/r/{mangle(token)}")
    assert response.status_code == 404
    assert "Dana" not in html_of(response)
    assert fresh(Touchpoint, touchpoint.id).first_opened_at is None


def test_replaced_link_says_to_use_the_latest_message(client, touchpoint):
    old = link(touchpoint)
    touchpoint.reissue_link()
    db.session.commit()
    response = get(client, old)
    html = html_of(response)
    assert response.status_code == 410
    assert "replaced" in html and "latest message from Dana" in html
    assert "<form" not in html
    assert get(client, link(touchpoint)).status_code == 200  # the new one works


def test_revoked_link_shows_no_form(client, touchpoint):
    old = link(touchpoint)
    touchpoint.revoke_link()
    db.session.commit()
    response = get(client, old)
    assert response.status_code == 410
    assert "people-0-name" not in html_of(response)


def test_revoked_link_says_to_ask_for_a_new_one_not_that_one_was_sent(client, touchpoint):
    old = link(touchpoint)
    touchpoint.revoke_link()
    db.session.commit()
    html = html_of(get(client, old))
    assert "This link no longer works" in html
    assert "ask Dana for a new link" in html
    assert "newer link" not in html and "latest message" not in html


# Expired links and asking for a fresh one


def test_expired_link_offers_to_request_a_new_one(client, url, touchpoint, user, expired_links):
    response = get(client, url)
    html = html_of(response)
    assert response.status_code == 410
    assert "expired" in html
    assert f'action="{url}/fresh-link"' in html
    assert "people-0-name" not in html
    assert fresh(Touchpoint, touchpoint.id).first_opened_at is None

    csrf = csrf_from(response)
    first = post(client, f"{url}/fresh-link", {"csrf_token": csrf})
    second = post(client, f"{url}/fresh-link", {"csrf_token": csrf})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == f"{url}/fresh-link"

    sent = emails()
    assert [(e.template, e.to_email) for e in sent] == [("fresh_link_request", user.email)]
    assert "Jamie Client" in sent[0].body_text
    assert fresh(Touchpoint, touchpoint.id).fresh_link_requested_at is not None

    confirmation = get(client, f"{url}/fresh-link")
    assert confirmation.status_code == 200
    assert "let Dana know" in html_of(confirmation)
    assert "Expect a new link from Dana" in html_of(confirmation)


def test_a_fresh_link_can_be_asked_for_again_the_next_day(client, url, touchpoint, expired_links):
    touchpoint.fresh_link_requested_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    csrf = csrf_from(get(client, url))
    post(client, f"{url}/fresh-link", {"csrf_token": csrf})
    assert len(emails("fresh_link_request")) == 1


def test_a_replaced_link_cannot_ask_for_a_fresh_one(client, touchpoint):
    old = link(touchpoint)
    csrf = csrf_from(get(client, old))
    touchpoint.reissue_link()
    db.session.commit()
    response = post(client, f"{old}/fresh-link", {"csrf_token": csrf})
    assert response.status_code == 410
    assert emails() == []


def test_submitting_after_the_link_expired_saves_nothing(client, url, app):
    csrf, key = open_form(client, url)
    app.config["CLIENT_LINK_MAX_AGE"] = -1
    response = post(client, url, form_data(csrf, key, person(0)))
    assert response.status_code == 410
    assert count_rows(Referral) == 0


# Validation


VALIDATION_CASES = {
    "missing name": ({"name": ""}, "Please give their name."),
    "neither email nor phone": (
        {"email": "", "phone": ""},
        "Give an email or a phone number so Dana can reach them.",
    ),
    "bad email": ({"email": "sam@@example"}, "That email address doesn't look right."),
    "accents before the @": ({"email": "josé@example.org"}, "plain letters before the @"),
    "no consent": ({"consent": None}, "Please confirm they're happy to be contacted."),
    # The same phone rule as the professional's contact form.
    "too few digits": ({"phone": "1 2 3 4 5"}, "A phone number needs at least 6 digits."),
}


@pytest.mark.parametrize(
    ("change", "message"), list(VALIDATION_CASES.values()), ids=list(VALIDATION_CASES)
)
def test_invalid_submission_keeps_every_value_and_says_what_to_fix(client, url, change, message):
    csrf, key = open_form(client, url)
    typed = {
        "name": "Sam O'Neil",
        "email": "sam@example.org",
        "phone": "+1 555 0100",
        "how_known": "Old colleague <from> work",
        "need": "Needs a new bookkeeper & fast",
        "intro_method": IntroMethod.MEET_TOGETHER.value,
    } | change
    second = person(1, name="Alex Other", need="Second row stays")
    response = post(
        client, url, form_data(csrf, key, person(0, **typed), second, update_preference="none")
    )
    html = html_of(response)
    assert response.status_code == 422
    assert str(escape(message)) in html
    # The summary at the top links to the field.
    summary = html.split('role="alert"', 1)[1].split("</div>", 1)[0]
    assert 'href="#people-0-' in summary and str(escape(message)) in summary
    for value in typed.values():
        if value:
            assert f"{escape(value)}" in html, value
    assert 'value="meet_together"' in html
    assert re.search(r'<input checked id="people-0-intro_method-3"', html)
    assert "Alex Other" in html and "Second row stays" in html
    assert re.search(r'<input checked id="update_preference-2"', html)
    assert f'value="{key}"' in html  # the same submission key
    assert 'aria-invalid="true"' in html
    assert count_rows(Referral) == 0
    assert count_rows(OutboundEmail) == 0


def test_a_phone_number_alone_is_enough(client, url):
    csrf, key = open_form(client, url)
    response = post(client, url, form_data(csrf, key, person(0, email="", phone="020 7946 0000")))
    assert response.status_code == 303
    assert db.session.scalar(sa.select(Referral.phone)) == "020 7946 0000"


def test_empty_rows_are_skipped_but_one_person_is_needed(client, url):
    csrf, key = open_form(client, url)
    blank = person(1, name="", email="", how_known="", need="", consent=None)
    response = post(client, url, form_data(csrf, key, person(0), blank))
    assert response.status_code == 303
    assert count_rows(Referral) == 1

    csrf, key = open_form(client, url)
    nobody = person(0, name="", email="", how_known="", need="", consent=None)
    response = post(client, url, form_data(csrf, key, nobody))
    assert response.status_code == 422
    assert "Please give their name." in html_of(response)


# Adding and removing rows


def test_add_a_person_without_javascript_keeps_every_value(client, url):
    csrf, key = open_form(client, url)
    data = form_data(csrf, key, person(0, name="Robin <Keep>"), person(1, email=""), action="add")
    response = post(client, url, data)
    html = html_of(response)
    assert response.status_code == 200
    assert rows(html) == [0, 1, 2]
    assert "Robin &lt;Keep&gt;" in html
    assert 'class="error"' not in html  # no messages for a form still being filled in
    assert re.search(r'id="people-2-name"[^>]*autofocus', html, re.S)
    assert f'value="{key}"' in html
    assert count_rows(Referral) == 0


def test_remove_a_person_without_javascript_keeps_the_others(client, url):
    csrf, key = open_form(client, url)
    data = form_data(
        csrf,
        key,
        person(0, name="Ana First"),
        person(1, name="Ben Second"),
        person(2, name="Cy Third", intro_method=IntroMethod.DRAFT_FOR_REFERRER.value),
        action="remove-1",
    )
    response = post(client, url, data)
    html = html_of(response)
    assert response.status_code == 200
    assert rows(html) == [0, 1]
    assert "Ana First" in html and "Cy Third" in html and "Ben Second" not in html
    # Cy moved up to row 1 and kept their choice.
    assert 'id="people-1-name" name="people-1-name" value="Cy Third"' in html
    assert re.search(r'<input checked id="people-1-intro_method-2"', html)
    assert 'class="error"' not in html
    assert count_rows(Referral) == 0


def test_the_first_person_has_no_remove_button(client, url):
    html = html_of(get(client, url))
    assert 'value="remove-0"' not in html and 'value="remove-1"' in html


def test_enter_in_a_field_sends_the_form(client, url):
    # A browser submits with the form's first submit button: it must be "send".
    html = html_of(get(client, url))
    form = html.split('class="capture"', 1)[1]
    first_button = re.search(r'<button type="submit" name="action" value="([^"]+)"', form)
    assert first_button.group(1) == "submit"


def test_no_more_rows_than_the_limit(client, url, app):
    app.config["REFERRAL_FORM_MAX_PEOPLE"] = 2
    csrf, key = open_form(client, url)
    html = html_of(post(client, url, form_data(csrf, key, person(0), person(1), action="add")))
    assert rows(html) == [0, 1]
    assert 'value="add"' not in html
    assert get(client, f"{url}/person?index=2", headers={"HX-Request": "true"}).status_code == 204


# htmx


def test_htmx_add_returns_one_row_and_moves_the_add_button_on(client, url):
    response = get(client, f"{url}/person?index=2", headers={"HX-Request": "true"})
    html = html_of(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert rows(html) == [2]
    assert "Person 3" in html
    assert re.search(r'id="people-2-name"[^>]*autofocus', html, re.S)
    assert 'value="remove-2"' in html
    assert 'id="add-person" class="add-person" hx-swap-oob="true"' in html
    assert f"{url}/person?index=3" in html


def test_htmx_remove_returns_the_rows_only(client, url):
    csrf, key = open_form(client, url)
    data = form_data(csrf, key, person(0, name="Ana First"), person(1), action="remove-1")
    response = post(client, url, data, headers={"HX-Request": "true"})
    html = html_of(response)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="people">')
    assert rows(html) == [0]
    assert "Ana First" in html
    assert "HX-Request" in response.headers["Vary"]
    assert re.search(r'value="add"[^>]*autofocus', html, re.S)


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("email", {"email": "nope@", "phone": ""}, "That email address doesn"),
        ("email", {"email": "josé@example.org", "phone": ""}, "plain letters before the @"),
        ("name", {"name": "  "}, "Please give their name."),
        ("consent", {"consent": None}, "Please confirm they"),
        ("name", {"name": "Fine Name"}, None),
    ],
)
def test_inline_validation_returns_just_that_fields_error(client, url, field, values, expected):
    csrf, _ = open_form(client, url)
    response = post(
        client,
        f"{url}/validate",
        {"csrf_token": csrf, **person(1, **values)},
        headers={"HX-Request": "true", "HX-Trigger-Name": f"people-1-{field}"},
    )
    html = html_of(response).strip()
    assert response.status_code == 200
    assert "<html" not in html
    if expected:
        assert html.startswith('<p class="error">') and expected in html
    else:
        assert html == ""


def test_inline_validation_of_email_or_phone_updates_the_either_or_message(client, url):
    csrf, _ = open_form(client, url)
    headers = {"HX-Request": "true", "HX-Trigger-Name": "people-0-phone"}
    empty = post(
        client, f"{url}/validate", {"csrf_token": csrf, **person(0, email="")}, headers=headers
    )
    assert 'id="people-0-reach-error" hx-swap-oob="innerHTML"' in html_of(empty)
    assert "Give an email or a phone number so Dana can reach them." in html_of(empty)

    filled = post(
        client,
        f"{url}/validate",
        {"csrf_token": csrf, **person(0, email="", phone="555 0100")},
        headers=headers,
    )
    assert 'hx-swap-oob="innerHTML"></div>' in html_of(filled)


def test_inline_validation_needs_a_field(client, url):
    csrf, _ = open_form(client, url)
    response = post(client, f"{url}/validate", {"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert response.status_code == 400


# Sending


def test_valid_submission_saves_the_people_and_queues_both_emails(
    client, url, touchpoint, contact, user, app
):
    csrf, key = open_form(client, url)
    response = post(
        client,
        url,
        form_data(
            csrf,
            key,
            person(0, name="Lee Friend", need="Needs <b>payroll</b> & tax help"),
            person(
                1,
                name="Mo Partner",
                email="",
                phone="555 0100",
                intro_method=IntroMethod.REFERRER_INTRODUCES.value,
            ),
            update_preference="milestones",
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{url}/thanks?s={key}"

    referrals = list(db.session.scalars(sa.select(Referral).order_by(Referral.position)))
    assert [(r.name, r.position) for r in referrals] == [("Lee Friend", 0), ("Mo Partner", 1)]
    for referral in referrals:
        assert referral.submission_key == key
        assert referral.touchpoint_id == touchpoint.id
        assert referral.contact_id == contact.id and referral.user_id == user.id
        assert referral.consent_at is not None
        assert referral.consent_notice_version == app.config["CONSENT_NOTICE_VERSION"]
        assert referral.status == ReferralStatus.NEW
    assert referrals[1].intro_method == IntroMethod.REFERRER_INTRODUCES
    assert referrals[1].phone == "555 0100" and referrals[1].email == ""

    events = list(db.session.scalars(sa.select(ReferralEvent)))
    assert sorted(e.referral_id for e in events) == sorted(r.id for r in referrals)
    assert {(e.kind, e.to_status, e.author) for e in events} == {
        ("created", ReferralStatus.NEW, "Jamie Client (referrer)")
    }

    answered = fresh(Touchpoint, touchpoint.id)
    assert answered.state == TouchpointState.ANSWERED and answered.answered_at is not None
    assert answered.contact.update_preference == UpdatePreference.MILESTONES

    thanks, news = emails("referrer_thanks"), emails("new_referrals")
    assert [(e.to_email, e.reply_to) for e in thanks] == [("jamie@example.net", user.email)]
    assert [(e.to_email, e.reply_to) for e in news] == [(user.email, "jamie@example.net")]
    assert count_rows(OutboundEmail) == 2  # nobody referred is ever emailed
    assert "Lee Friend" in thanks[0].body_text and "Mo Partner" in thanks[0].body_html
    assert f"{url}" in thanks[0].body_text
    assert "milestones" in thanks[0].body_text
    assert "Jamie Client introduced you to 2 people" in news[0].subject
    assert "Needs &lt;b&gt;payroll&lt;/b&gt; &amp; tax help" in news[0].body_html
    assert "<b>payroll" not in news[0].body_html
    assert "Needs <b>payroll</b> & tax help" in news[0].body_text  # plain text stays text
    assert f"/contacts/{contact.id}" in news[0].body_text
    assert "“I&#39;ll introduce you (email or call)”" in news[0].body_html

    page = get(client, response.headers["Location"])
    html = html_of(page)
    assert page.status_code == 200
    assert "Lee Friend" in html and "Mo Partner" in html
    assert "You&#39;ll introduce them to Dana" in html
    assert "Dana Reyes helps dental practices cut their tax bill." in html
    assert "milestones" in html


def test_replaying_the_same_submission_adds_nobody_twice(client, url):
    csrf, key = open_form(client, url)
    data = form_data(csrf, key, person(0), person(1))
    first = post(client, url, data)
    again = post(client, url, data)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert count_rows(Referral) == 2
    assert count_rows(ReferralEvent) == 2
    assert count_rows(OutboundEmail) == 2
    assert get(client, again.headers["Location"]).status_code == 200


def test_a_submission_that_loses_a_race_lands_on_the_same_thanks(client, url, monkeypatch):
    from app.capture import routes

    csrf, key = open_form(client, url)
    data = form_data(csrf, key, person(0))
    post(client, url, data)
    # The other request saved it between our check and our insert.
    monkeypatch.setattr(routes, "_already_saved", lambda key: False)
    response = post(client, url, data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{url}/thanks?s={key}"
    assert count_rows(Referral) == 1
    assert count_rows(OutboundEmail) == 2


def test_a_link_revoked_while_the_form_is_checked_saves_nothing(
    client, url, touchpoint, monkeypatch
):
    """The form is read and checked without SQLite's write lock; a revocation that
    lands in between is noticed once the lock is held, and nothing is saved."""
    from app.capture import routes

    csrf, key = open_form(client, url)
    real_writing, touchpoint_id = routes.writing, touchpoint.id

    def revoked_meanwhile():
        # Another request (another connection) revokes the link and commits.
        with db.engine.begin() as other:
            other.execute(
                sa.update(Touchpoint)
                .where(Touchpoint.id == touchpoint_id)
                .values(link_active=False)
            )
        return real_writing()

    monkeypatch.setattr(routes, "writing", revoked_meanwhile)
    response = post(client, url, form_data(csrf, key, person(0)))
    assert response.status_code == 410
    assert "<form" not in html_of(response).split("<main", 1)[1]
    assert count_rows(Referral) == count_rows(ReferralEvent) == count_rows(OutboundEmail) == 0
    after = fresh(Touchpoint, touchpoint_id)
    assert after.state == TouchpointState.OPENED and after.answered_at is None


def test_the_empty_rows_rendered_once_are_the_rows_the_template_renders(app, user):
    """The form's empty rows come from a per-process copy; it must be the template's
    own output, the professional's name escaped, for every kind of row."""
    from flask import render_template

    from app.capture.blank_rows import blank_row
    from app.capture.forms import blank_person

    token = "eyJ0IjoxLCJ2IjoxfQ.aw-3dg.Abc_d-0"
    with app.test_request_context("/r/x"):
        for short in (False, True):
            for index in range(3):
                for pro in ("Dana", 'Zoë <b>"&"</b>'):
                    template = render_template(
                        "capture/_person.html",
                        person=blank_person(index, short),
                        index=index,
                        token=token,
                        pro=pro,
                        focus=None,
                    )
                    assert blank_row(index, short, token, pro) == template
                    assert "<b>" not in template
        # A token url_for would have to quote is left to the template.
        assert blank_row(0, False, "a/b", "Dana") is None


def test_the_people_section_rendered_once_is_what_the_template_renders(app, user):
    """A first showing's whole people section (its empty rows and the add control)
    comes from a per-process copy too: the template's own output, for one to the
    most rows, either kind of row, and names that need escaping."""
    from flask import render_template

    from app.capture.blank_rows import blank_people
    from app.capture.forms import blank_person

    token = "eyJ0IjoxLCJ2IjoxfQ.aw-3dg.Abc_d-0"
    with app.test_request_context("/r/x"):
        for short in (False, True):
            for rows, most in ((1, 6), (3, 6), (3, 3)):
                for pro in ("Dana", 'Zoë <b>"&"</b>'):
                    template = render_template(
                        "capture/_people.html",
                        people=[blank_person(index, short) for index in range(rows)],
                        token=token,
                        pro=pro,
                        focus=None,
                        max_people=most,
                    )
                    assert blank_people(rows, short, token, pro, most) == template
                    assert template.count('class="person"') == rows
                    assert ("Add another person" in template) == (rows < most)
        assert blank_people(1, False, "a/b", "Dana", 6) is None


def test_unanswered_questions_rendered_once_are_what_the_template_renders(app, user):
    """The same for the named questions: markers filled in once, and a value that
    looks like a marker stays text."""
    from types import SimpleNamespace

    from flask import render_template

    from app.capture.blank_rows import blank_ask
    from app.capture.forms import NamedAskForm, named_asks

    connections = [
        SimpleNamespace(id=7, name="David <Jones>", organisation="Acme & Co", how_known=""),
        SimpleNamespace(id=8, name="zqproqz", organisation="", how_known='She said "soon" <b>'),
    ]
    with app.test_request_context("/r/x"):
        for short in (False, True):
            for pro in ("Dana", "Zoë <i>&</i>"):
                blanks = named_asks(None, connections, professional=pro, short=short)
                for blank, connection in zip(blanks, connections, strict=True):
                    ask = NamedAskForm(None, connection=connection, professional=pro, short=short)
                    template = render_template(
                        "capture/_named_ask.html", ask=ask, pro=pro, short=short
                    )
                    assert blank_ask(blank, short, pro) == template
                    assert "<b>" not in template and "<i>" not in template


def test_no_thank_you_email_to_a_referrer_who_unsubscribed(client, url, contact):
    contact.unsubscribed_at = utcnow()
    db.session.commit()
    csrf, key = open_form(client, url)
    post(client, url, form_data(csrf, key, person(0)))
    assert [e.template for e in emails()] == ["new_referrals"]


def test_reopening_the_link_shows_what_was_sent_and_invites_more(client, url):
    csrf, key = open_form(client, url)
    post(client, url, form_data(csrf, key, person(0, name="Lee Friend")))
    html = html_of(get(client, url))
    assert "The people you've introduced" in html
    assert "Lee Friend" in html
    assert 'value="Lee Friend"' not in html  # listed, not editable
    assert "Anyone else you've talked to about working with Dana?" in html
    assert rows(html) == [0]
    new_key = SUBMISSION_KEY.search(html).group(1)
    assert new_key != key

    post(client, url, form_data(csrf_from_page(html), new_key, person(0, name="Kim More")))
    assert count_rows(Referral) == 2


def csrf_from_page(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_thanks_page_needs_its_own_submission(client, url, contact, touchpoint):
    make_referral(contact, touchpoint, submission_key="a" * 32)
    other_user = make_user("other@example.com")
    other = make_touchpoint(make_contact(other_user))
    make_referral(make_contact(other_user), other, name="Secret Person", submission_key="b" * 32)
    # Another touchpoint's submission shows nothing of it: back to the form.
    response = get(client, f"{url}/thanks?s={'b' * 32}")
    assert response.status_code == 303 and response.headers["Location"] == url
    assert get(client, f"/r/{client_link_token(other)}/thanks?s={'a' * 32}").status_code == 303


def test_script_in_a_name_is_text_everywhere(client, url):
    evil = '<script>alert("x")</script>'
    csrf, key = open_form(client, url)
    invalid = post(client, url, form_data(csrf, key, person(0, name=evil, consent=None)))
    assert invalid.status_code == 422
    assert "<script>alert" not in html_of(invalid)

    sent = post(client, url, form_data(csrf, key, person(0, name=evil, how_known=evil)))
    pages = [get(client, sent.headers["Location"]), get(client, url)]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in html_of(page)
        assert "&lt;script&gt;alert" in html_of(page)
    for email in emails():
        assert "<script>alert" not in email.body_html
        assert "&lt;script&gt;alert" in email.body_html


def test_a_post_without_csrf_token_is_rejected_and_writes_nothing(client, url, touchpoint):
    _, key = open_form(client, url)
    response = post(client, url, form_data("", key, person(0)) | {"csrf_token": ""})
    assert response.status_code == 400
    assert count_rows(Referral) == 0
    assert count_rows(OutboundEmail) == 0
    assert fresh(Touchpoint, touchpoint.id).answered_at is None
    response = post(client, f"{url}/fresh-link", {})
    assert response.status_code == 400


def test_the_link_needs_no_cookie_and_its_token_works_only_on_its_own_link(app, contact, url):
    """The form's CSRF token is bound to the link: the page sets no cookie, a browser
    that keeps none can still send it, and a token from another link is refused."""
    page = get(app.test_client(), url)
    assert "Set-Cookie" not in page.headers
    token, key = csrf_from(page), SUBMISSION_KEY.search(html_of(page)).group(1)

    other = make_touchpoint(contact)
    other.mark_sent()
    db.session.commit()
    other_url = link(other)
    refused = post(app.test_client(), other_url, form_data(token, key, person(0)))
    assert refused.status_code == 400
    assert "reload the page" in html_of(refused)
    assert count_rows(Referral) == 0
    htmx = {"HX-Request": "true", "HX-Trigger-Name": "people-0-email", "X-CSRFToken": token}
    for target, status in ((other_url, 400), (url, 200)):
        checked = post(app.test_client(), f"{target}/validate", person(0), headers=htmx)
        assert checked.status_code == status

    sent = post(app.test_client(), url, form_data(token, key, person(0)))
    assert sent.status_code == 303
    assert count_rows(Referral) == 1
