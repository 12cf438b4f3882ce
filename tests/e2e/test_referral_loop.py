"""The capture half of the loop, end to end, in the real browser.

A professional sets up on a desktop, plans and emails a touchpoint; the email
reaches a real SMTP server on loopback (after one temporary failure); the client
opens the link from that email on a phone, names two people and is thanked by
page and by email; the professional sees the referrals.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from app.extensions import db
from app.mail import deliver_outbox
from app.models import Referral, Touchpoint
from app.tokens import client_link_token
from tests.factories import make_contact, make_touchpoint, make_user

LINK = re.compile(r"https?://[^\s\"'<>]+/r/[A-Za-z0-9_.\-]+")


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config}


def deliver(app):
    """Run the outbox job once, as cron would."""
    with app.app_context():
        return deliver_outbox()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def received_by(smtp_server, address: str):
    return [m for m in smtp_server.handler.messages if address in str(m["To"])]


@pytest.fixture
def client_link(app, live_server):
    """A professional with a due touchpoint for Maya; yields the link's URL."""
    with app.app_context():
        user = make_user()
        contact = make_contact(user, name="Maya Okafor", email="maya@example.net")
        touchpoint = make_touchpoint(contact, ask_count=2)
        token = client_link_token(touchpoint)
    return f"{live_server}/r/{token}"


def axe_violations(page: Page) -> int:
    results = Axe().run(page)
    if results.violations_count:
        print(results.generate_report())
    return results.violations_count


def fill_person(page: Page, index: int, name: str, email: str, need: str, method: str):
    row = page.locator(f"#person-{index}")
    row.get_by_label("Their name").fill(name)
    row.get_by_label("Email", exact=True).fill(email)
    row.get_by_label("What do they need").fill(need)
    row.get_by_label(method).check()
    row.get_by_label("They're happy for").check()


@pytest.mark.parametrize("mode", ["phone", "desktop", "no-javascript"])
def test_the_whole_loop_from_setup_to_thank_you(app, live_server, open_page, smtp_server, mode):
    pro, phone = open_page(mode), open_page(mode)
    # First run: the first page offers to create the account.
    pro.goto(live_server)
    expect(pro.get_by_role("heading", name="Welcome to Referloop")).to_be_visible()
    pro.get_by_label("Your name").fill("Dana Reyes")
    pro.get_by_label("Business name").fill("Reyes Advisory")
    pro.get_by_label("Email address").fill("dana@reyes.example")
    pro.get_by_label("Password", exact=True).fill("a long enough passphrase")
    pro.get_by_label("Password again").fill("a long enough passphrase")
    pro.get_by_role("button", name="Create my account").click()
    expect(pro.get_by_role("button", name="Sign out")).to_be_visible()

    # The words a referrer can repeat.
    pro.goto(f"{live_server}/settings")
    pro.get_by_label("What to say about you").fill("helps dental practices cut their tax bill")
    pro.get_by_role("button", name=re.compile("Save")).click()
    expect(pro.get_by_text("helps dental practices", exact=False).first).to_be_visible()

    # A client whose work was delivered 100 days ago: a touchpoint is due.
    pro.goto(f"{live_server}/contacts/new")
    pro.get_by_label("Name", exact=True).fill("Maya Okafor")
    pro.get_by_label("Email address").fill("maya@example.net")
    pro.get_by_label("Work delivered").fill((date.today() - timedelta(days=100)).isoformat())
    pro.get_by_role("button", name="Save contact").click()
    expect(pro.get_by_text("A touchpoint is planned")).to_be_visible()

    pro.goto(f"{live_server}/touchpoints/")
    pro.get_by_role("link", name=re.compile("Maya Okafor")).first.click()
    pro.get_by_role("button", name="Email it to Maya Okafor").click()
    expect(pro.get_by_text("Queued")).to_be_visible()

    # The first delivery meets a temporary failure; the next run succeeds.
    smtp_server.handler.fail_next = 1
    assert deliver(app).retrying == 1
    assert received_by(smtp_server, "maya@example.net") == []
    assert deliver(app).sent == 1
    [touchpoint_email] = received_by(smtp_server, "maya@example.net")
    link = LINK.search(text_of(touchpoint_email)).group(0)

    # The client, on a phone, follows the link from the email.
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("already talked to")
    expect(phone.get_by_text("helps dental practices cut their tax bill")).to_be_visible()
    fill_person(phone, 0, "Sam Patel", "sam@patel.example", "Needs an accountant", "Let's meet")
    fill_person(phone, 1, "Lee Wong", "lee@wong.example", "Asked about tax", "I'll introduce")
    phone.get_by_label("Milestones only").check()
    phone.get_by_role("button", name=re.compile("^Send to")).click()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Thank")
    expect(phone.get_by_text("Sam Patel")).to_be_visible()
    expect(phone.get_by_text("Lee Wong")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]

    # Thanks to the referrer and news to the professional, by email; none to the people named.
    assert deliver(app).sent == 2
    assert len(received_by(smtp_server, "maya@example.net")) == 2
    [notice] = received_by(smtp_server, "dana@reyes.example")
    assert "Sam Patel" in text_of(notice) and "Lee Wong" in text_of(notice)
    recipients = {r for e in smtp_server.handler.envelopes for r in e.rcpt_tos}
    assert recipients == {"maya@example.net", "dana@reyes.example"}

    # The professional sees the new referrals on the client's page.
    pro.goto(f"{live_server}/contacts/")
    pro.get_by_role("link", name="Maya Okafor").click()
    expect(pro.get_by_text("Sam Patel")).to_be_visible()
    expect(pro.get_by_text("Lee Wong")).to_be_visible()


def test_without_javascript_rows_errors_and_sending_all_work(app, client_link, no_js):
    page = no_js
    page.goto(client_link)
    expect(page.locator("fieldset.person")).to_have_count(2)
    row = page.locator("#person-0")
    row.get_by_label("Their name").fill("Sam Patel")
    row.get_by_label("Phone", exact=True).fill("+44 20 7946 0000")
    row.get_by_label("What do they need").fill("Wants help with payroll")

    page.get_by_role("button", name="Add another person").click()
    expect(page.locator("fieldset.person")).to_have_count(3)
    expect(page.locator("#person-0").get_by_label("Their name")).to_have_value("Sam Patel")

    # Forgetting the confirmation: a specific message, and nothing typed is lost.
    page.get_by_role("button", name=re.compile("^Send to")).click()
    expect(page.get_by_role("alert")).to_contain_text("happy to be contacted")
    row = page.locator("#person-0")
    expect(row.get_by_label("Phone", exact=True)).to_have_value("+44 20 7946 0000")
    expect(row.get_by_label("What do they need")).to_have_value("Wants help with payroll")

    row.get_by_label("They're happy for").check()
    page.get_by_role("button", name=re.compile("^Send to")).click()
    expect(page.get_by_text("Sam Patel")).to_be_visible()
    with app.app_context():
        names = db.session.scalars(db.select(Referral.name)).all()
    assert names == ["Sam Patel"]


def test_with_htmx_rows_are_added_in_place_and_fields_checked_as_they_are_left(
    client_link, desktop
):
    page = desktop
    page.goto(client_link)
    page.get_by_role("button", name="Add another person").click()
    expect(page.locator("fieldset.person")).to_have_count(3)
    expect(page.locator("#person-2").get_by_label("Their name")).to_be_focused()

    email = page.locator("#person-0").get_by_label("Email", exact=True)
    email.fill("not-an-address")
    email.press("Tab")
    expect(page.locator("#person-0")).to_contain_text("doesn't look right")

    page.locator("#person-2").get_by_role("button", name=re.compile("Remove")).click()
    expect(page.locator("fieldset.person")).to_have_count(2)
    expect(email).to_have_value("not-an-address")


def test_double_click_on_send_creates_each_person_once(app, client_link, no_js):
    page = no_js
    page.goto(client_link)
    fill_person(page, 0, "Sam Patel", "sam@patel.example", "Payroll", "Contact them directly")
    page.get_by_role("button", name=re.compile("^Send to")).dblclick()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank")
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(Referral))
    assert count == 1


def test_client_pages_have_no_accessibility_violations(app, client_link, phone):
    page = phone
    page.goto(client_link)
    assert axe_violations(page) == 0

    page.get_by_role("button", name=re.compile("^Send to")).click()  # empty: errors shown
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == 0

    fill_person(page, 0, "Sam Patel", "sam@patel.example", "Payroll", "Contact them directly")
    page.get_by_role("button", name=re.compile("^Send to")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank")
    assert axe_violations(page) == 0

    app.config["CLIENT_LINK_MAX_AGE"] = -1  # every link is now past its age
    response = page.goto(client_link)
    assert response.status == 410
    expect(page.get_by_role("button", name=re.compile("fresh link|new link"))).to_be_visible()
    assert axe_violations(page) == 0


def test_tampered_and_replaced_links_in_the_browser(app, client_link, phone):
    token = client_link.rsplit("/", 1)[1]
    tampered = client_link.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert phone.goto(tampered).status == 404
    expect(phone.get_by_role("heading", level=1)).to_have_text("Page not found")

    with app.app_context():
        touchpoint = db.session.scalars(db.select(Touchpoint)).one()
        touchpoint.reissue_link()
        db.session.commit()
    assert phone.goto(client_link).status == 410
    expect(phone.locator("main")).to_contain_text("replaced")
    expect(phone.locator("form.capture")).to_have_count(0)
