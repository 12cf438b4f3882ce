"""Asking for THE introduction, in the real browser.

A client with two known connections opens their link: both are asked about by
name. A yes to one and a free-form person make two referrals; the "not now" is
not asked at the next touchpoint. On a phone with and without JavaScript, with
no accessibility violations on the form and the thank-you page.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Connection, ConnectionStatus, IntroMethod, Referral
from app.tokens import client_link_token
from tests.factories import make_contact, make_touchpoint, make_user

DAVID = "Would you be comfortable introducing Dana to David Jones at Acme?"
PRIYA = "Would you be comfortable introducing Dana to Priya Shah?"


def axe_violations(page: Page) -> int:
    results = Axe().run(page)
    if results.violations_count:
        print(results.generate_report())
    return results.violations_count


@pytest.fixture
def setup(app, live_server):
    """Maya, a client with two known connections and a due touchpoint."""
    with app.app_context():
        user = make_user(blurb="Dana helps practices keep more of what they earn.\nAsk me how.")
        contact = make_contact(
            user,
            name="Maya Okafor",
            email="maya@example.net",
            terms_what_counts="Someone with a real tax question",
            terms_how_many=2,
            terms_in_return="A free quarterly review",
        )
        ids = []
        for name, organisation, how in (
            ("David Jones", "Acme", ""),
            ("Priya Shah", "", "You mentioned Priya runs the clinic next door."),
        ):
            connection = Connection(
                user_id=user.id,
                contact_id=contact.id,
                name=name,
                organisation=organisation,
                how_known=how,
            )
            db.session.add(connection)
            db.session.commit()
            ids.append(connection.id)
        touchpoint = make_touchpoint(contact, ask_count=2)
        token = client_link_token(touchpoint)
        contact_id = contact.id
    return {
        "url": f"{live_server}/r/{token}",
        "david": ids[0],
        "priya": ids[1],
        "contact": contact_id,
    }


def next_link(app, live_server, contact_id: int) -> str:
    with app.app_context():
        from app.models import Contact

        touchpoint = make_touchpoint(db.session.get(Contact, contact_id))
        return f"{live_server}/r/{client_link_token(touchpoint)}"


@pytest.mark.parametrize("mode", ["phone", "no-javascript"])
def test_named_questions_become_referrals_and_not_now_waits(
    app, live_server, open_page, setup, mode
):
    page = open_page(mode)
    page.goto(setup["url"])
    david = page.locator(f"#named-{setup['david']}")
    priya = page.locator(f"#named-{setup['priya']}")
    expect(david.locator("legend").first).to_have_text(DAVID)
    expect(priya.locator("legend").first).to_have_text(PRIYA)
    expect(priya).to_contain_text("You mentioned Priya runs the clinic next door.")
    expect(
        page.get_by_text("As we agreed, an introduction is someone with a real tax")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Forward by email")).to_have_attribute(
        "href", re.compile(r"^mailto:\?subject=Meet%20Dana%20Reyes.*&body=Dana%20helps.*%0D%0AAsk")
    )
    if mode == "phone":
        assert axe_violations(page) == 0

    david.get_by_label("Yes", exact=True).check()
    david.get_by_label("Let's meet together").check()
    david.get_by_label("If yes: what might they need?").fill("A second opinion on their taxes")
    priya.get_by_label("Not now").check()
    row = page.locator("#person-0")
    row.get_by_label("Their name").fill("Sam Patel")
    row.get_by_label("Email", exact=True).fill("sam@patel.example")
    row.get_by_label("What do they need").fill("Needs an accountant")
    row.get_by_label("They're happy for").check()
    page.get_by_role("button", name=re.compile("^Send to")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, Maya")
    expect(page.locator(".next-steps")).to_contain_text("David Jones")
    expect(page.locator(".next-steps")).to_contain_text("Sam Patel")
    expect(page.get_by_text("won't ask about Priya Shah again for a while")).to_be_visible()
    expect(page.get_by_role("link", name="Forward by email")).to_be_visible()
    if mode == "phone":
        expect(page.get_by_role("button", name="Copy this to forward")).to_be_visible()
        assert axe_violations(page) == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

    with app.app_context():
        made = db.session.scalars(db.select(Referral).order_by(Referral.position)).all()
        assert [(r.name, r.connection_id) for r in made] == [
            ("David Jones", setup["david"]),
            ("Sam Patel", None),
        ]
        assert made[0].intro_method == IntroMethod.MEET_TOGETHER
        statuses = {c.id: c.status for c in db.session.scalars(db.select(Connection)).all()}
        assert statuses == {
            setup["david"]: ConnectionStatus.YES,
            setup["priya"]: ConnectionStatus.NOT_NOW,
        }

    # The next touchpoint asks about neither: one said yes, the other not now.
    page.goto(next_link(app, live_server, setup["contact"]))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text(PRIYA)).to_have_count(0)
    expect(page.get_by_text(DAVID)).to_have_count(0)
    expect(page.locator("fieldset.named")).to_have_count(0)


def test_the_professional_sees_what_came_of_each_and_asks_again(app, live_server, open_page, setup):
    # Maya answers both named questions and names nobody else.
    phone = open_page("phone")
    phone.goto(setup["url"])
    phone.locator(f"#named-{setup['priya']}").get_by_label("Not now").check()
    phone.locator(f"#named-{setup['david']}").get_by_label("I don't know them well").check()
    phone.get_by_role("button", name=re.compile("^Send to")).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you, Maya")

    pro = open_page("desktop")
    pro.goto(f"{live_server}/login")
    pro.get_by_label("Email").fill("pro@example.com")
    pro.get_by_label("Password").fill("correct horse battery")
    pro.get_by_role("button", name=re.compile("Sign in")).click()
    pro.goto(f"{live_server}/contacts/{setup['contact']}")
    section = pro.locator("#connections")
    expect(section.locator(f"#connection-{setup['priya']}")).to_contain_text("Not now")
    expect(section.locator(f"#connection-{setup['david']}")).to_contain_text(
        "Doesn't know them well"
    )
    section.locator(f"#connection-{setup['priya']}").get_by_role(
        "button", name=re.compile("Ask again at the next touchpoint")
    ).click()
    expect(section.get_by_role("status")).to_contain_text("asks about Priya Shah again")
    assert axe_violations(pro) == 0

    phone.goto(next_link(app, live_server, setup["contact"]))
    expect(phone.get_by_text(PRIYA)).to_be_visible()
    expect(phone.get_by_text(DAVID)).to_have_count(0)
