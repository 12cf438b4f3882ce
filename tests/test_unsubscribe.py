"""One-click unsubscribe (RFC 8058) for every email to a referrer, and what it stops.

A mail client POSTs ``List-Unsubscribe=One-Click`` to the address in the
header with no cookies and no CSRF token; the signed token is the credential.
Opening the address (a person, or a mail scanner) only shows a page. Once a
referrer has unsubscribed, nothing more reaches them, even an email queued
before; the professional's own notices still go.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.capture.emails import new_referrals_notice, referrer_thanks
from app.extensions import db
from app.mail import add_to_outbox, build_message, deliver_outbox
from app.models import (
    Contact,
    EmailState,
    OutboundEmail,
    Referral,
    ReferralStatus,
    UpdateState,
    utcnow,
)
from app.referrals.updates import CannotTell, record_status_change, tell_referrer
from app.tokens import client_link_token, read_unsubscribe_token
from app.touchpoints.emails import queue_touchpoint_email
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user


def as_received(email):
    """The email as its recipient's mail program reads it."""
    return message_from_bytes(build_message(email).as_bytes(), policy=policy.default)


ONE_CLICK = "List-Unsubscribe=One-Click"
LIST_UNSUBSCRIBE = re.compile(r"^<(https?://[^>\s]+/u/[^>\s]+)>$")


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config}


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
def referral(contact, touchpoint):
    return make_referral(contact, touchpoint, name="Lee Friend")


def settled():
    db.session.rollback()


def fresh_contact(contact_id: int) -> Contact:
    db.session.expire_all()
    return db.session.get(Contact, contact_id)


def path_of(url: str) -> str:
    return urlsplit(url).path


def one_click(app, url: str):
    """What a mail client does: a bare POST, from a client with no cookies at all."""
    settled()
    return app.test_client().post(
        path_of(url), data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )


def queue_update(referral, message="I've been in touch with Lee.") -> OutboundEmail:
    event = record_status_change(referral, ReferralStatus.CONTACTED, author="Dana Reyes")
    db.session.flush()
    email = tell_referrer(event, message)
    db.session.commit()
    return email


def queue_each_kind(referral, touchpoint) -> list[OutboundEmail]:
    """Every kind of email a referrer gets: the touchpoint, the thank-you, an update."""
    emails = [
        queue_touchpoint_email(touchpoint),
        add_to_outbox(referrer_thanks(touchpoint, [referral], "http://localhost/r/x")),
    ]
    db.session.commit()
    return [*emails, queue_update(referral)]


def later() -> object:
    """A clock past the update window, so held-back update emails are due."""
    return utcnow() + timedelta(hours=1)


# The headers and the footer


def test_every_email_to_a_referrer_has_one_click_unsubscribe(contact, touchpoint, referral):
    for email in queue_each_kind(referral, touchpoint):
        message = as_received(email)
        match = LIST_UNSUBSCRIBE.match(message["List-Unsubscribe"])
        assert match, (email.template, message["List-Unsubscribe"])
        address = match.group(1)
        assert message["List-Unsubscribe-Post"] == ONE_CLICK
        assert address == email.unsubscribe_url
        # Signed for this contact (not compared with a fresh signature: its time may differ).
        assert read_unsubscribe_token(address.rsplit("/", 1)[1]).id == contact.id
        # The same address in the footer of both parts, for people and older clients.
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"Unsubscribe: {address}" in text, email.template
        assert f'href="{address}"' in html, email.template


def test_notices_to_the_professional_have_no_unsubscribe(user, touchpoint, referral):
    notice = add_to_outbox(new_referrals_notice(touchpoint, [referral]))
    db.session.commit()
    message = as_received(notice)
    assert message["To"].addresses[0].addr_spec == user.email
    assert message["List-Unsubscribe"] is None
    assert "/u/" not in notice.body_text


# The page and the one-click POST


def test_opening_the_link_changes_nothing(app, contact, referral, touchpoint):
    address = queue_update(referral).unsubscribe_url
    settled()
    response = app.test_client().get(path_of(address))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Stop emails from Dana Reyes?" in html
    assert f'action="{path_of(address)}"' in html
    assert "Unsubscribe jamie@example.net</button>" in html
    assert fresh_contact(contact.id).unsubscribed_at is None


def test_one_click_needs_no_session_or_csrf_token_and_can_be_repeated(app, contact, referral):
    address = queue_update(referral).unsubscribe_url
    first = one_click(app, address)
    assert first.status_code == 200
    assert "You're unsubscribed" in first.get_data(as_text=True)
    when = fresh_contact(contact.id).unsubscribed_at
    assert when is not None

    again = one_click(app, address)
    assert again.status_code == 200
    assert fresh_contact(contact.id).unsubscribed_at == when  # the first time is kept


def test_a_person_pressing_the_button_unsubscribes_too(app, client, contact, referral):
    address = queue_update(referral).unsubscribe_url
    settled()
    client.get(path_of(address))
    settled()
    response = client.post(path_of(address), data={})
    assert response.status_code == 200
    assert fresh_contact(contact.id).unsubscribed_at is not None


@pytest.mark.parametrize(
    "forge",
    [
        lambda token, _tp: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        lambda _token, _tp: "not-a-token",
        # A genuine token for another purpose (the client link) is no unsubscribe token.
        lambda _token, touchpoint: client_link_token(touchpoint),
    ],
)
def test_a_forged_token_is_not_found(app, contact, referral, touchpoint, forge):
    token = path_of(queue_update(referral).unsubscribe_url).rsplit("/", 1)[1]
    bad = f"/u/{forge(token, touchpoint)}"
    settled()
    browser = app.test_client()
    assert browser.get(bad).status_code == 404
    assert browser.post(bad, data=ONE_CLICK).status_code == 404
    assert browser.post(f"{bad}/undo").status_code == 404
    assert fresh_contact(contact.id).unsubscribed_at is None


def test_a_token_for_a_contact_that_is_gone_is_not_found(app, user, contact, referral):
    address = queue_update(referral).unsubscribe_url
    db.session.delete(contact)
    db.session.commit()
    settled()
    assert app.test_client().post(path_of(address), data=ONE_CLICK).status_code == 404


def test_undo_lets_emails_reach_them_again(app, contact, referral):
    address = queue_update(referral).unsubscribe_url
    one_click(app, address)
    settled()
    response = app.test_client().post(f"{path_of(address)}/undo")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Emails from Dana Reyes can reach you again." in html
    assert "<title>You'll keep getting emails" in html
    assert fresh_contact(contact.id).unsubscribed_at is None


# What unsubscribing stops


def test_an_email_queued_before_is_not_delivered(app, user, contact, touchpoint, referral):
    update = queue_update(referral)
    notice = add_to_outbox(new_referrals_notice(touchpoint, [referral]))
    db.session.commit()
    one_click(app, update.unsubscribe_url)
    settled()

    report = deliver_outbox(now=later())
    assert (report.sent, report.failed) == (1, 1)
    db.session.expire_all()
    update = db.session.get(OutboundEmail, update.id)
    notice = db.session.get(OutboundEmail, notice.id)
    assert update.state == EmailState.FAILED
    assert update.last_error == "Not sent: the recipient has unsubscribed"
    assert notice.state == EmailState.SENT


def test_the_smtp_server_receives_nothing_for_the_referrer(
    app, smtp_server, user, contact, touchpoint, referral
):
    queued = queue_each_kind(referral, touchpoint)
    add_to_outbox(new_referrals_notice(touchpoint, [referral]))
    db.session.commit()
    one_click(app, queued[0].unsubscribe_url)
    settled()

    report = deliver_outbox(now=later())
    assert (report.sent, report.failed) == (1, 3)
    received = [to for envelope in smtp_server.handler.envelopes for to in envelope.rcpt_tos]
    assert received == [user.email]  # the professional's notice still goes
    assert "jamie@example.net" not in received
    states = dict(db.session.execute(sa.select(OutboundEmail.template, OutboundEmail.state)).all())
    assert states == {
        "touchpoint": EmailState.FAILED,
        "referrer_thanks": EmailState.FAILED,
        "referrer_update": EmailState.FAILED,
        "new_referrals": EmailState.SENT,
    }


def test_email_it_is_refused_with_the_reason(app, signed_in, contact, touchpoint):
    contact.unsubscribed_at = utcnow()
    db.session.commit()
    settled()
    page = signed_in.get(f"/touchpoints/{touchpoint.id}")
    assert "asked not to get emails from Referloop" in page.get_data(as_text=True)
    settled()
    response = signed_in.post(
        f"/touchpoints/{touchpoint.id}/email", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    settled()
    html = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Jamie Client asked not to get emails from Referloop" in html
    assert count_rows(OutboundEmail) == 0


def test_the_capture_thank_you_is_not_queued_but_the_professional_hears(
    app, smtp_server, client, user, contact, touchpoint
):
    contact.unsubscribed_at = utcnow()
    db.session.commit()
    url = f"/r/{client_link_token(touchpoint)}"
    settled()
    page = client.get(url)
    key = re.search(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"', page.text)
    settled()
    response = client.post(
        url,
        data={
            "csrf_token": csrf_from(page),
            "submission_key": key.group(1),
            "update_preference": "every_step",
            "people-0-name": "Sam Patel",
            "people-0-email": "sam@example.org",
            "people-0-intro_method": "mention_referrer",
            "people-0-consent": "y",
        },
    )
    assert response.status_code == 303
    assert count_rows(Referral) == 1
    templates = db.session.scalars(sa.select(OutboundEmail.template)).all()
    assert templates == ["new_referrals"]

    deliver_outbox()
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [[user.email]]


def test_updates_cannot_be_told_to_an_unsubscribed_referrer(contact, referral):
    contact.unsubscribed_at = utcnow()
    db.session.commit()
    event = record_status_change(referral, ReferralStatus.MEETING_SET, author="Dana Reyes")
    assert event.update_state == UpdateState.SKIPPED  # no update waits for the professional
    with pytest.raises(CannotTell, match="unsubscribed"):
        tell_referrer(event, "We meet on Tuesday.")
    db.session.rollback()
    assert count_rows(OutboundEmail) == 0


def test_another_professionals_contact_is_unaffected(app, user, contact, referral):
    other_user = make_user(email="other@example.com")
    other = make_contact(other_user, email="jamie@example.net")  # the same person, elsewhere
    one_click(app, queue_update(referral).unsubscribe_url)
    assert fresh_contact(contact.id).unsubscribed_at is not None
    assert fresh_contact(other.id).unsubscribed_at is None
