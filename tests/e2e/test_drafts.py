"""'Draft an introduction for me to send', end to end in the real browser.

The professional writes the introduction on the referral's page and tells the
referrer; the referrer opens their link on a phone, sees the draft under the
person, edits it, and the "Send it from my email" link carries their words,
encoded as RFC 6068 asks: with JavaScript as they type, without it once saved.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import IntroMethod, Referral, utcnow
from app.tokens import client_link_token
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

PRO_BODY = "Hi David,\n\nMeet Dana Reyes: she helps dental practices.\n\nBest wishes,\nAnn"
EDIT_SUBJECT = "David & Dana: café soon?"
EDIT_BODY = "Hi David,\n\nDana sorted our taxes & saved us a fortune. Zoë agrees!\n\nAnn"


@pytest.fixture
def setup(app, live_server):
    """Ann introduced David and asked Dana to draft the introduction; yields Ann's link."""
    with app.app_context():
        user = make_user()
        ann = make_contact(user, name="Ann Lee", email="ann@example.net")
        touchpoint = make_touchpoint(ann, answered_at=utcnow())
        david = make_referral(
            ann,
            touchpoint,
            name="David Jones",
            email="david@example.org",
            need="Wants a second opinion on their tax planning.",
            intro_method=IntroMethod.DRAFT_FOR_REFERRER,
        )
        token = client_link_token(touchpoint)
        return {"link": f"{live_server}/r/{token}", "referral_id": david.id}


def decode(href: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(href)
    assert parts.scheme == "mailto"
    fields = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return unquote(parts.path), fields


def assert_carries(href: str, subject: str, body: str) -> None:
    query = href.split("?", 1)[1]
    assert "%0D%0A" in query and " " not in query and "\n" not in query
    assert query.count("&") == 1  # "&" in the words is %26; only the separator is left
    address, fields = decode(href)
    assert address == "david@example.org"
    assert fields == {"subject": subject, "body": body.replace("\n", "\r\n")}


def axe_violations(page: Page) -> int:
    results = Axe().run(page)
    if results.violations_count:
        print(results.generate_report())
    return results.violations_count


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill("pro@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def stored(app, referral_id: int) -> Referral:
    with app.app_context():
        db.session.expire_all()
        referral = db.session.scalar(sa.select(Referral).where(Referral.id == referral_id))
        db.session.expunge(referral)
        return referral


def test_the_professional_drafts_and_the_referrer_edits_and_sends(
    app, setup, live_server, open_page
):
    rid = setup["referral_id"]
    pro = open_page("desktop")
    sign_in(pro, live_server)
    pro.goto(f"{live_server}/referrals/{rid}")
    section = pro.locator("#draft")
    expect(section.get_by_role("heading", name="The introduction Ann will send")).to_be_visible()
    expect(section.get_by_label("Subject")).to_have_value("Introducing Dana Reyes and David")
    expect(section.get_by_label("The introduction")).to_have_value(
        # The pre-filled draft: the one line, the need, Ann's sign-off.
        re.compile(r"^Hi David,[^]*cut their tax bill\.[^]*Best wishes,\nAnn$")
    )
    section.get_by_label("The introduction").fill(PRO_BODY)
    section.get_by_role("button", name="Save and tell Ann").click()
    expect(pro.locator(".flashes")).to_contain_text("Ann hears it's ready")
    expect(pro.locator("#history")).to_contain_text("Introduction drafted for Ann to send")

    # Ann, on her phone: the draft under David, and its email link.
    phone = open_page("phone")
    phone.goto(setup["link"])
    draft = phone.locator(f"#draft-{rid}")
    expect(draft.get_by_role("heading", name="Your introduction of David Jones")).to_be_visible()
    send = draft.get_by_role("link", name="Send it from my email")
    expect(draft.get_by_label("Message")).to_have_value(PRO_BODY)
    assert_carries(send.get_attribute("href"), "Introducing Dana Reyes and David", PRO_BODY)
    expect(draft.get_by_role("button", name="Copy the message")).to_be_visible()
    assert axe_violations(phone) == 0

    # As she types, the link follows.
    draft.get_by_label("Subject").fill(EDIT_SUBJECT)
    draft.get_by_label("Message").fill(EDIT_BODY)
    assert_carries(send.get_attribute("href"), EDIT_SUBJECT, EDIT_BODY)

    # Saving (htmx) keeps her version; the refreshed section carries it too.
    draft.get_by_role("button", name="Save my changes").click()
    expect(phone.locator(f"#draft-{rid} .flash")).to_contain_text("Saved")
    saved = stored(app, rid)
    assert saved.intro_draft_by_referrer == EDIT_BODY
    assert saved.intro_draft_subject == EDIT_SUBJECT
    phone.reload()
    send = phone.locator(f"#draft-{rid}").get_by_role("link", name="Send it from my email")
    assert_carries(send.get_attribute("href"), EDIT_SUBJECT, EDIT_BODY)
    assert axe_violations(phone) == 0

    # Dana sees that Ann made it her own.
    pro.reload()
    expect(pro.locator("#draft")).to_contain_text("Ann has edited it.")
    expect(pro.locator("#draft")).to_contain_text("saved us a fortune")
    assert axe_violations(pro) == 0

    # Once the link has expired, the draft can still be sent, but no longer edited.
    app.config["CLIENT_LINK_MAX_AGE"] = -1
    phone.reload()
    draft = phone.locator(f"#draft-{rid}")
    expect(draft.get_by_role("textbox")).to_have_count(0)
    expect(draft).to_contain_text("saved us a fortune")
    send = draft.get_by_role("link", name="Send it from my email")
    assert_carries(send.get_attribute("href"), EDIT_SUBJECT, EDIT_BODY)
    assert axe_violations(phone) == 0


def test_without_javascript_the_link_carries_the_edit_once_saved(app, setup, open_page):
    rid = setup["referral_id"]
    with app.app_context():
        referral = db.session.get(Referral, rid)
        referral.intro_draft_subject = "Introducing Dana Reyes and David"
        referral.intro_draft = PRO_BODY
        db.session.commit()

    page = open_page("no-javascript")
    page.goto(setup["link"])
    draft = page.locator(f"#draft-{rid}")
    send = draft.get_by_role("link", name="Send it from my email")
    assert_carries(send.get_attribute("href"), "Introducing Dana Reyes and David", PRO_BODY)
    expect(draft.get_by_role("button", name="Copy the message")).to_be_hidden()

    draft.get_by_label("Subject").fill(EDIT_SUBJECT)
    draft.get_by_label("Message").fill(EDIT_BODY)
    # Not saved yet: the link still carries the draft it was given.
    assert_carries(send.get_attribute("href"), "Introducing Dana Reyes and David", PRO_BODY)
    draft.get_by_role("button", name="Save my changes").click()

    expect(page.locator(".flashes")).to_contain_text("now uses this version")
    send = page.locator(f"#draft-{rid}").get_by_role("link", name="Send it from my email")
    assert_carries(send.get_attribute("href"), EDIT_SUBJECT, EDIT_BODY)
