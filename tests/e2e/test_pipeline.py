"""Closing the loop, end to end, in the real browser.

The professional moves referrals through the pipeline on the referrals page;
the update they send reaches a real SMTP server on loopback; the referrer
follows the email's link on a phone and sees the new status; a referrer on
"milestones only" gets nothing for "contacted"; and after a one-click
unsubscribe (an RFC 8058 POST with no cookies) nothing more reaches them.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from app.extensions import db
from app.mail import deliver_outbox
from app.models import Contact, Referral, UpdatePreference, utcnow
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

LINK = re.compile(r"https?://[^\s\"'<>]+/r/[A-Za-z0-9_.\-]+")


@pytest.fixture
def app_config(app_config, smtp_config):
    # No gathering window: each update can be delivered at once.
    return {**app_config, **smtp_config, "REFERRER_UPDATE_WINDOW_SECONDS": 0}


@pytest.fixture
def pipeline(app):
    """Ann (every step) introduced David; Tom (milestones only) introduced Zoe."""
    with app.app_context():
        user = make_user()
        ann = make_contact(
            user,
            name="Ann Lee",
            email="ann@example.net",
            update_preference=UpdatePreference.EVERY_STEP,
        )
        tom = make_contact(
            user,
            name="Tom Becker",
            email="tom@example.net",
            update_preference=UpdatePreference.MILESTONES,
        )
        for contact, person in ((ann, "David Jones"), (tom, "Zoe Park")):
            touchpoint = make_touchpoint(contact, answered_at=utcnow())
            make_referral(contact, touchpoint, name=person, need="Wants a second opinion")
    return app


def deliver(app):
    with app.app_context():
        return deliver_outbox()


def received_by(smtp_server, address: str):
    return [m for m in smtp_server.handler.messages if address in str(m["To"])]


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill("pro@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def change_status(page: Page, person: str, status: str) -> None:
    """Use the status form in the person's row of the referrals page."""
    row = (
        page.locator("tr, li, article")
        .filter(has_text=person)
        .filter(has=page.get_by_role("button", name="Update"))
        .last
    )
    row.get_by_label(re.compile("Status")).select_option(label=status)
    row.get_by_role("button", name="Update").click()


def axe_violations(page: Page) -> int:
    results = Axe().run(page)
    if results.violations_count:
        print(results.generate_report())
    return results.violations_count


def test_updates_reach_the_referrer_and_respect_preference_and_unsubscribe(
    pipeline, live_server, open_page, smtp_server
):
    app = pipeline
    pro = open_page("desktop")
    sign_in(pro, live_server)
    pro.goto(f"{live_server}/referrals/")
    referrals_url = pro.url

    # Every step: the update is proposed in place, edited and sent.
    change_status(pro, "David Jones", "Contacted")
    message = pro.get_by_label("Your update to Ann")
    expect(message).to_have_value(re.compile("David"))
    assert pro.url == referrals_url  # changed in place, no page load
    message.fill("I called David this morning; we talk again on Friday.")
    pro.get_by_role("button", name="Send update to Ann").click()
    expect(pro.get_by_label("Your update to Ann")).to_have_count(0)

    assert deliver(app).sent == 1
    (email,) = received_by(smtp_server, "ann@example.net")
    body = email.get_body(("plain",)).get_content()
    assert "I called David this morning" in body
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The referrer follows the link on a phone: David's new status and the update.
    phone = open_page("phone")
    phone.goto(LINK.search(body).group(0))
    introduced = phone.locator("main")
    expect(introduced).to_contain_text("David Jones")
    expect(introduced).to_contain_text("Dana has been in touch")
    expect(introduced).to_contain_text("I called David this morning")
    assert axe_violations(phone) == 0

    # Milestones only: "contacted" is recorded, nothing is proposed or sent.
    change_status(pro, "Zoe Park", "Contacted")
    expect(pro.get_by_role("status").filter(has_text="milestones")).to_be_visible()
    expect(pro.get_by_label("Your update to Tom")).to_have_count(0)
    assert deliver(app).sent == 0
    assert received_by(smtp_server, "tom@example.net") == []

    # One-click unsubscribe: a POST with no cookies and no CSRF token.
    unsubscribe = str(email["List-Unsubscribe"]).strip().strip("<>")
    stranger = open_page("phone")
    response = stranger.request.post(unsubscribe, form={"List-Unsubscribe": "One-Click"})
    assert response.ok
    with app.app_context():
        ann = db.session.query(Contact).filter_by(email="ann@example.net").one()
        assert ann.unsubscribed_at is not None

    # Later steps for Ann's person send nothing, and the professional is told why.
    pro.goto(referrals_url)
    change_status(pro, "David Jones", "Meeting set")
    expect(pro.locator("main")).to_contain_text("unsubscribed")
    expect(pro.get_by_label("Your update to Ann")).to_have_count(0)
    assert deliver(app).sent == 0
    assert len(received_by(smtp_server, "ann@example.net")) == 1
    with app.app_context():
        statuses = {r.name: r.status.value for r in db.session.query(Referral)}
    assert statuses == {"David Jones": "meeting_set", "Zoe Park": "contacted"}


def test_without_javascript_a_status_change_and_its_update_still_work(
    pipeline, live_server, open_page, smtp_server
):
    app = pipeline
    page = open_page("no-javascript")
    sign_in(page, live_server)
    page.goto(f"{live_server}/referrals/")
    change_status(page, "David Jones", "Meeting set")
    message = page.get_by_label("Your update to Ann")
    expect(message).to_have_value(re.compile("David"))
    page.get_by_role("button", name="Send update to Ann").click()
    expect(page.locator("main")).to_contain_text("Meeting set")

    assert deliver(app).sent == 1
    (email,) = received_by(smtp_server, "ann@example.net")
    assert "David" in email.get_body(("plain",)).get_content()
