"""Updates to referrers: pre-written by step, gathered per referrer, and delivered for real."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.mail import deliver_outbox
from app.models import (
    EmailState,
    EventKind,
    OutboundEmail,
    ReferralEvent,
    ReferralStatus,
    UpdatePreference,
    UpdateState,
    utcnow,
)
from app.referrals.updates import (
    CannotTell,
    add_heads_up,
    add_thanks,
    draft_for,
    record_status_change,
    referrer_view_url,
    tell_referrer,
)
from tests.conftest import count_rows
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

WINDOW = 15 * 60


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config, "REFERRER_UPDATE_WINDOW_SECONDS": WINDOW}


@pytest.fixture
def referrer(ctx):
    """A contact who answered a touchpoint and named two people."""
    user = make_user()
    contact = make_contact(user, name="Ann Lee", update_preference=UpdatePreference.EVERY_STEP)
    touchpoint = make_touchpoint(contact, answered_at=utcnow())
    first = make_referral(contact, touchpoint, name="David Jones")
    second = make_referral(contact, touchpoint, name="Maria Silva")
    return contact, first, second


def step(referral, status, note=""):
    return record_status_change(referral, status, author="Dana Reyes", note=note)


@pytest.mark.parametrize(
    ("preference", "status", "expected"),
    [
        (UpdatePreference.EVERY_STEP, ReferralStatus.CONTACTED, UpdateState.PENDING),
        (UpdatePreference.MILESTONES, ReferralStatus.CONTACTED, UpdateState.SKIPPED),
        (UpdatePreference.MILESTONES, ReferralStatus.MEETING_SET, UpdateState.PENDING),
        (UpdatePreference.MILESTONES, ReferralStatus.WON, UpdateState.PENDING),
        (UpdatePreference.MILESTONES, ReferralStatus.NO_RESPONSE, UpdateState.SKIPPED),
        (UpdatePreference.NONE, ReferralStatus.WON, UpdateState.SKIPPED),
    ],
)
def test_the_referrers_preference_decides_whether_an_update_is_proposed(
    referrer, preference, status, expected
):
    contact, referral, _ = referrer
    contact.update_preference = preference
    event = step(referral, status, note="private")
    db.session.commit()
    assert event.update_state == expected
    assert (event.from_status, event.to_status) == (ReferralStatus.NEW, status)
    assert referral.status == status and event.user_id == contact.user_id


def test_unsubscribed_referrer_is_never_proposed_an_update_and_cannot_be_told(referrer):
    contact, referral, _ = referrer
    contact.unsubscribed_at = utcnow()
    event = step(referral, ReferralStatus.WON)
    assert event.update_state == UpdateState.SKIPPED
    with pytest.raises(CannotTell, match="unsubscribed"):
        tell_referrer(event, "Good news")
    db.session.commit()
    assert count_rows(OutboundEmail) == 0
    assert db.session.get(ReferralEvent, event.id).update_state == UpdateState.SKIPPED


def test_drafts_name_the_person_and_never_carry_the_private_note(referrer):
    _, referral, _ = referrer
    step(referral, ReferralStatus.MEETING_SET, note="Seems price sensitive")
    draft = draft_for(referral, EventKind.STATUS, ReferralStatus.MEETING_SET)
    assert "David" in draft and "price sensitive" not in draft
    assert "David" in draft_for(referral, EventKind.THANKS)


def test_changes_within_the_window_go_out_as_one_email(referrer):
    contact, first, second = referrer
    before = utcnow()
    tell_referrer(step(first, ReferralStatus.CONTACTED), "I called David today.")
    db.session.commit()
    tell_referrer(step(second, ReferralStatus.MEETING_SET), "Maria and I meet on Friday.")
    add_thanks(first, "Thank you for David.", author="Dana Reyes")
    db.session.commit()

    emails = db.session.scalars(sa.select(OutboundEmail)).all()
    assert len(emails) == 1
    email = emails[0]
    assert email.template == "referrer_update" and email.to_email == contact.email
    assert email.subject == "An update about 2 people you introduced"
    for text in ("I called David today.", "Maria and I meet on Friday.", "Thank you for David."):
        assert text in email.body_text and text in email.body_html
    # Held back for the window counted from the first change, not pushed on by later ones.
    assert before + timedelta(seconds=WINDOW) <= email.next_attempt_at
    assert email.next_attempt_at <= before + timedelta(seconds=WINDOW + 60)
    assert first.thanked_at is not None
    told = db.session.scalars(sa.select(ReferralEvent).where(ReferralEvent.email_id == email.id))
    assert sorted(event.kind.value for event in told) == ["status", "status", "thanks"]


def test_a_change_after_the_email_was_claimed_starts_a_new_one(referrer):
    contact, first, second = referrer
    email = tell_referrer(step(first, ReferralStatus.CONTACTED), "First news")
    db.session.commit()
    email.state = EmailState.SENDING  # what a sender's claim does
    db.session.commit()
    later = tell_referrer(step(second, ReferralStatus.CONTACTED), "Second news")
    db.session.commit()
    assert later.id != email.id
    assert "Second news" not in db.session.get(OutboundEmail, email.id).body_text
    assert "First news" not in later.body_text


def test_each_referrer_gets_their_own_email(referrer):
    contact, first, _ = referrer
    other = make_contact(contact.user, name="Ben Ode")
    other_referral = make_referral(other, name="Zoe Park")
    tell_referrer(step(first, ReferralStatus.CONTACTED), "About David")
    tell_referrer(step(other_referral, ReferralStatus.CONTACTED), "About Zoe")
    db.session.commit()
    by_recipient = dict(
        db.session.execute(sa.select(OutboundEmail.to_email, OutboundEmail.body_text)).all()
    )
    assert "About Zoe" not in by_recipient[contact.email]
    assert "About David" not in by_recipient[other.email]


def test_heads_up_is_flagged_in_the_subject_and_keeps_the_note_private(referrer):
    _, referral, _ = referrer
    add_heads_up(
        referral,
        "I missed our call with David; I've apologised and we rebooked.",
        author="Dana Reyes",
        note="My calendar double-booked",
    )
    db.session.commit()
    email = db.session.scalar(sa.select(OutboundEmail))
    assert email.subject.endswith("please read this first")
    assert "rebooked" in email.body_text
    assert "double-booked" not in email.body_text + email.body_html


def test_user_text_is_escaped_in_the_html_email(referrer):
    _, referral, _ = referrer
    referral.name = "<b>David</b>"
    tell_referrer(step(referral, ReferralStatus.CONTACTED), "<script>alert(1)</script>")
    db.session.commit()
    email = db.session.scalar(sa.select(OutboundEmail))
    assert "<script>" not in email.body_html and "&lt;script&gt;" in email.body_html
    assert "<b>David</b>" not in email.body_html


def test_the_update_is_delivered_after_the_window_with_one_click_unsubscribe(
    client, referrer, smtp_server
):
    contact, referral, _ = referrer
    tell_referrer(step(referral, ReferralStatus.MEETING_SET), "David and I meet on Friday.")
    db.session.commit()

    assert deliver_outbox().sent == 0  # still inside the window
    report = deliver_outbox(now=utcnow() + timedelta(seconds=WINDOW + 1))
    assert report.sent == 1
    (message,) = smtp_server.handler.messages
    assert message["To"].addresses[0].addr_spec == contact.email
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert "/u/" in unsubscribe
    body = message.get_body(("plain",)).get_content()
    assert "David and I meet on Friday." in body and unsubscribe in body
    # The email links to the referrer's page, which opens.
    link = re.search(r"http://\S+/r/\S+", body).group(0)
    assert client.get(link.removeprefix("http://127.0.0.1:5000")).status_code == 200


def test_no_view_link_when_the_referrers_link_was_revoked(referrer):
    contact, _, _ = referrer
    touchpoint = db.session.scalar(sa.select(type(referrer[1].touchpoint)))
    touchpoint.revoke_link()
    db.session.commit()
    assert referrer_view_url(contact) == ""
