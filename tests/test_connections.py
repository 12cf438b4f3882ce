"""Known connections on a contact: add, edit, remove, ask again, and what came of each."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Connection, ConnectionStatus, IntroMethod, Referral, utcnow
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

HTMX = {"HX-Request": "true"}
EVIL = '<script>alert("x")</script>'


def settled():
    """End the test's own transaction so the app can write (SQLite's write lock)."""
    db.session.rollback()


def get(client, url, **kwargs):
    settled()
    return client.get(url, **kwargs)


def post(client, url, data=None, **kwargs):
    """POST with the CSRF token of the signed-in session."""
    settled()
    token = csrf_from(client.get("/"))
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def html_of(response) -> str:
    return response.get_data(as_text=True)


def fresh(ident) -> Connection | None:
    db.session.expire_all()
    return db.session.get(Connection, ident)


def make_connection(contact, **fields) -> Connection:
    fields.setdefault("name", "David Jones")
    fields.setdefault("organisation", "Acme")
    connection = Connection(user_id=contact.user_id, contact_id=contact.id, **fields)
    db.session.add(connection)
    db.session.commit()
    return connection


@pytest.fixture
def contact(user):
    return make_contact(user, name="Jamie Client")


@pytest.fixture
def base(contact) -> str:
    return f"/contacts/{contact.id}/connections"


# Adding


def test_the_contact_page_has_the_section_and_an_add_form(signed_in, contact):
    html = html_of(get(signed_in, f"/contacts/{contact.id}"))
    assert 'id="connections"' in html
    assert "People Jamie knows" in html
    assert "None recorded yet." in html
    assert f'action="/contacts/{contact.id}/connections/new"' in html
    assert 'name="connection-name"' in html and 'name="connection-how_known"' in html


def test_add_a_connection_without_javascript(signed_in, contact, base, user):
    response = post(
        signed_in,
        f"{base}/new",
        {
            "connection-name": "  David Jones ",
            "connection-organisation": "Acme",
            "connection-how_known": "You mentioned you sit on the board together.",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{contact.id}#connections"
    connection = db.session.scalars(sa.select(Connection)).one()
    assert (connection.name, connection.organisation) == ("David Jones", "Acme")
    assert connection.how_known == "You mentioned you sit on the board together."
    assert (connection.user_id, connection.contact_id) == (user.id, contact.id)
    assert connection.status == ConnectionStatus.NOT_ASKED and connection.asked_at is None

    html = html_of(get(signed_in, f"/contacts/{contact.id}"))
    assert "Added David Jones." in html
    assert "David Jones" in html and "at Acme" in html
    assert "Not asked yet" in html


def test_a_connection_needs_a_name_and_keeps_what_was_typed(signed_in, base):
    data = {"connection-name": "  ", "connection-organisation": "Acme & Sons"}
    response = post(signed_in, f"{base}/new", data)
    html = html_of(response)
    assert response.status_code == 422
    assert "Give the person&#39;s name." in html
    assert 'value="Acme &amp; Sons"' in html
    assert 'aria-invalid="true"' in html
    assert count_rows(Connection) == 0


def test_add_with_htmx_swaps_the_section_in_place(signed_in, contact, base):
    response = post(signed_in, f"{base}/new", {"connection-name": "Ana Board"}, headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith("<section")
    assert 'role="status"' in html and "Added Ana Board." in html
    assert "HX-Request" in response.headers["Vary"]

    invalid = post(signed_in, f"{base}/new", {"connection-name": ""}, headers=HTMX)
    assert invalid.status_code == 422
    assert "<html" not in html_of(invalid)
    assert "Give the person&#39;s name." in html_of(invalid)
    assert "Ana Board" in html_of(invalid)  # the list is still there
    assert count_rows(Connection) == 1


def test_the_add_page_works_on_its_own(signed_in, contact, base):
    page = get(signed_in, f"{base}/new")
    assert page.status_code == 200
    assert "Someone Jamie knows" in html_of(page)


# Editing and removing


def test_edit_a_connection(signed_in, contact, base):
    connection = make_connection(contact)
    page = get(signed_in, f"{base}/{connection.id}/edit")
    assert page.status_code == 200 and 'value="David Jones"' in html_of(page)

    invalid = post(signed_in, f"{base}/{connection.id}/edit", {"connection-name": ""})
    assert invalid.status_code == 422
    response = post(
        signed_in,
        f"{base}/{connection.id}/edit",
        {"connection-name": "David R. Jones", "connection-organisation": ""},
    )
    assert response.status_code == 303
    changed = fresh(connection.id)
    assert (changed.name, changed.organisation) == ("David R. Jones", "")


def test_remove_asks_first_then_removes_and_keeps_the_referral(signed_in, contact, base):
    connection = make_connection(contact, status=ConnectionStatus.YES, asked_at=utcnow())
    referral = make_referral(contact, connection_id=connection.id)
    confirm = get(signed_in, f"{base}/{connection.id}/remove")
    html = html_of(confirm)
    assert confirm.status_code == 200
    assert "Remove David Jones?" in html
    assert "The referral made from Jamie's yes stays in your pipeline." in html
    assert count_rows(Connection) == 1  # opening the page removes nothing

    contact_page = html_of(get(signed_in, f"/contacts/{contact.id}"))
    assert 'hx-confirm="Remove David Jones from the people Jamie knows?' in contact_page

    response = post(signed_in, f"{base}/{connection.id}/remove")
    assert response.status_code == 303
    assert count_rows(Connection) == 0
    kept = db.session.get(Referral, referral.id)
    assert kept is not None and kept.connection_id is None


def test_remove_with_htmx_returns_the_section(signed_in, contact, base):
    connection = make_connection(contact)
    response = post(signed_in, f"{base}/{connection.id}/remove", headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200 and "<html" not in html
    assert "Removed David Jones." in html and "None recorded yet." in html


def test_remove_needs_a_post_with_a_csrf_token(signed_in, contact, base):
    connection = make_connection(contact)
    settled()
    assert signed_in.post(f"{base}/{connection.id}/remove").status_code == 400
    assert count_rows(Connection) == 1


# What came of each


def test_the_page_shows_each_outcome(signed_in, contact, base, user):
    touchpoint = make_touchpoint(contact)
    when = utcnow() - timedelta(days=3)
    yes = make_connection(
        contact,
        name="Yes Person",
        status=ConnectionStatus.YES,
        asked_at=when,
        touchpoint_id=touchpoint.id,
    )
    referral = make_referral(contact, touchpoint, name="Yes Person", connection_id=yes.id)
    make_connection(
        contact,
        name="Later Person",
        status=ConnectionStatus.NOT_NOW,
        asked_at=when,
        touchpoint_id=touchpoint.id,
    )
    make_connection(contact, name="Far Person", status=ConnectionStatus.DONT_KNOW_WELL)
    make_connection(contact, name="New Person")
    make_connection(contact, name="Again Person", asked_at=when)

    html = html_of(get(signed_in, f"/contacts/{contact.id}"))
    section = html.split('id="connections"', 1)[1].split("</section>", 1)[0]
    items = dict(re.findall(r"<h3>(\w+) Person.*?</h3>(.*?)</li>", section, re.S))
    assert f'href="/referrals/{referral.id}"' in items["Yes"]
    assert f'href="/touchpoints/{touchpoint.id}"' in items["Yes"]
    assert "Said yes" in items["Yes"] and "Ask again" not in items["Yes"]
    assert "Not now" in items["Later"] and "Ask again at the next touchpoint" in items["Later"]
    assert "Doesn't know them well" in items["Far"]
    assert "Not asked yet" in items["New"] and "Ask again" not in items["New"]
    assert "To ask again" in items["Again"]
    assert '<span class="badge">5</span>' in section


def test_ask_again_puts_a_not_now_back_on_the_next_form(signed_in, contact, base):
    asked = utcnow()
    connection = make_connection(contact, status=ConnectionStatus.NOT_NOW, asked_at=asked)
    response = post(signed_in, f"{base}/{connection.id}/ask-again")
    assert response.status_code == 303
    again = fresh(connection.id)
    assert again.status == ConnectionStatus.NOT_ASKED
    assert again.asked_at is not None  # when it was last answered stays on record
    assert "Jamie&#39;s next form asks about David Jones again." in html_of(
        get(signed_in, f"/contacts/{contact.id}")
    )


def test_ask_again_with_htmx_and_never_for_a_yes(signed_in, contact, base):
    later = make_connection(contact, status=ConnectionStatus.DONT_KNOW_WELL, asked_at=utcnow())
    response = post(signed_in, f"{base}/{later.id}/ask-again", headers=HTMX)
    assert response.status_code == 200 and "<html" not in html_of(response)
    assert fresh(later.id).status == ConnectionStatus.NOT_ASKED

    yes = make_connection(contact, name="Said Yes", status=ConnectionStatus.YES)
    post(signed_in, f"{base}/{yes.id}/ask-again")
    assert fresh(yes.id).status == ConnectionStatus.YES


# Ownership and escaping


def test_another_professionals_connection_is_not_found(signed_in, contact, base):
    other_user = make_user("other@example.com")
    other_contact = make_contact(other_user, name="Their Client")
    theirs = make_connection(other_contact, name="Their Secret", status=ConnectionStatus.NOT_NOW)
    mine = make_connection(contact)
    their_base = f"/contacts/{other_contact.id}/connections"
    urls = [
        (f"{their_base}/{theirs.id}/edit", "get"),
        (f"{their_base}/{theirs.id}/edit", "post"),
        (f"{their_base}/{theirs.id}/remove", "get"),
        (f"{their_base}/{theirs.id}/remove", "post"),
        (f"{their_base}/{theirs.id}/ask-again", "post"),
        (f"{their_base}/new", "get"),
        (f"{their_base}/new", "post"),
        # Their connection under my contact, and mine under theirs.
        (f"{base}/{theirs.id}/edit", "get"),
        (f"{base}/{theirs.id}/remove", "post"),
        (f"{their_base}/{mine.id}/edit", "get"),
        (f"{base}/99999999999999999999/edit", "get"),
    ]
    for url, method in urls:
        if method == "get":
            response = get(signed_in, url)
        else:
            response = post(signed_in, url, {"connection-name": "Taken Over"})
        assert response.status_code == 404, (url, method)
    assert fresh(theirs.id).name == "Their Secret"
    assert fresh(theirs.id).status == ConnectionStatus.NOT_NOW
    assert count_rows(Connection) == 2


def test_signed_out_is_sent_to_sign_in(client, contact, base):
    assert client.get(f"{base}/new").status_code == 302


def test_script_in_a_connection_is_text_everywhere(signed_in, contact, base):
    post(
        signed_in,
        f"{base}/new",
        {
            "connection-name": EVIL,
            "connection-organisation": EVIL,
            "connection-how_known": EVIL,
        },
    )
    connection = db.session.scalars(sa.select(Connection)).one()
    pages = [
        get(signed_in, f"/contacts/{contact.id}"),
        get(signed_in, f"{base}/{connection.id}/edit"),
        get(signed_in, f"{base}/{connection.id}/remove"),
        post(signed_in, f"{base}/{connection.id}/edit", {"connection-name": ""}),
        post(signed_in, f"{base}/new", {"connection-name": "", "connection-organisation": EVIL}),
    ]
    for page in pages:
        assert "<script>alert" not in html_of(page)
        assert "&lt;script&gt;alert" in html_of(page)


def test_a_yes_linked_referral_shows_its_method_on_the_section(signed_in, contact):
    # The section links to the referral; the referral itself keeps the method chosen.
    connection = make_connection(contact, status=ConnectionStatus.YES, asked_at=utcnow())
    referral = make_referral(
        contact, connection_id=connection.id, intro_method=IntroMethod.MEET_TOGETHER
    )
    html = html_of(get(signed_in, f"/contacts/{contact.id}"))
    assert f"/referrals/{referral.id}" in html
