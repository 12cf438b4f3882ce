"""Contacts: the list with active search, the form, the detail page, and ownership."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import Contact, ContactKind, Touchpoint, TouchpointState, UpdatePreference
from app.templating import day
from tests.conftest import count_rows, post_form
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

HTMX = {"HX-Request": "true"}

FULL = {
    "name": "Ann Example",
    "email": "ann@example.net",
    "phone": "+44 20 7946 0958",
    "kind": "vendor",
    "category": "Bookkeeper",
    "engagement_start": "2026-01-05",
    "delivered_on": "",
    "terms_what_counts": "Owners of practices with a real tax question",
    "terms_how_many": "3",
    "terms_in_return": "A free review of their own books",
    "update_preference": "milestones",
    "rhythm_days": "",
    "notes": "Met at the chamber breakfast",
}


def only_contact() -> Contact:
    return db.session.scalars(sa.select(Contact)).one()


def touchpoints_of(contact: Contact) -> list[Touchpoint]:
    return db.session.scalars(
        sa.select(Touchpoint).where(Touchpoint.contact_id == contact.id)
    ).all()


# Creating and editing


def test_a_contact_needs_only_a_name(signed_in, user):
    response = post_form(signed_in, "/contacts/new", {"name": "Bo Brief", "kind": "client"})
    contact = only_contact()
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{contact.id}"
    assert (contact.name, contact.email, contact.phone) == ("Bo Brief", "", "")
    assert contact.user_id == user.id
    assert touchpoints_of(contact) == []
    assert "Saved." in signed_in.get(response.headers["Location"]).get_data(as_text=True)


def test_a_contact_keeps_everything_that_was_typed(signed_in):
    post_form(signed_in, "/contacts/new", FULL)
    contact = only_contact()
    assert contact.kind == ContactKind.VENDOR
    assert contact.update_preference == UpdatePreference.MILESTONES
    assert contact.engagement_start == date(2026, 1, 5)
    assert contact.terms_how_many == 3
    assert contact.rhythm_days is None
    page = signed_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
    for text in (
        "Ann Example",
        "Vendor",
        "Bookkeeper",
        "A free review of their own books",
        "Milestones only",
        "Met at the chamber breakfast",
        "5 Jan 2026",
    ):
        assert text in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Enter the contact's name."),
        ("email", "ann.example.net", "Enter an email address like name@example.com."),
        ("email", "josé@example.net", "plain letters before the @"),
        ("phone", "call me maybe", "Use digits, spaces and + ( ) - only"),
        ("phone", "+1 (2) 3", "at least 6 digits"),
        ("engagement_start", "5 January", "Enter a date like 2027-02-21."),
        ("engagement_start", "0026-01-05", "Check the year"),
        ("delivered_on", "2025-12-31", "before the engagement started"),
        ("terms_how_many", "a few", "Enter a whole number"),
        ("terms_how_many", "0", "from 1 to 50"),
        ("rhythm_days", "3", "from 7 to 365"),
        ("kind", "boss", "Invalid Choice"),
    ],
)
def test_bad_input_is_refused_with_a_message_by_the_field(signed_in, field, value, message):
    response = post_form(signed_in, "/contacts/new", {**FULL, field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert error, f"no message by {field}"
    assert message in error.group(1).replace("&#39;", "'")
    assert re.search(rf'<(input|select)[^>]*aria-invalid="true"[^>]*id="{field}"', page)
    assert f'href="#{field}"' in page  # the summary at the top links to the field
    # Everything else typed is still there.
    assert "Met at the chamber breakfast" in page
    assert "A free review of their own books" in page
    if field != "phone":
        assert 'value="+44 20 7946 0958"' in page
    assert count_rows(Contact) == 0


def test_delivery_date_plans_the_first_touchpoint(signed_in, user):
    user.first_touchpoint_days = 60
    db.session.commit()
    response = post_form(signed_in, "/contacts/new", {**FULL, "delivered_on": "2026-12-23"})
    contact = only_contact()
    [touchpoint] = touchpoints_of(contact)
    assert touchpoint.due_on == date(2026, 12, 23) + timedelta(days=60)
    assert touchpoint.from_delivery and touchpoint.state == TouchpointState.PLANNED
    assert touchpoint.ask_count == user.ask_count
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved. A touchpoint is planned for 21 Feb 2027." in page
    assert f'href="/touchpoints/{touchpoint.id}"' in page


def test_a_new_delivery_date_moves_the_touchpoint_still_planned(signed_in, user):
    post_form(signed_in, "/contacts/new", {**FULL, "delivered_on": "2026-03-01"})
    contact = only_contact()
    url = f"/contacts/{contact.id}/edit"
    response = post_form(signed_in, url, {**FULL, "delivered_on": "2026-04-01"})
    assert response.status_code == 303
    [touchpoint] = touchpoints_of(contact)
    assert touchpoint.due_on == date(2026, 4, 1) + timedelta(days=user.first_touchpoint_days)
    assert f"planned for {day(touchpoint.due_on)}" in signed_in.get(
        f"/contacts/{contact.id}"
    ).get_data(as_text=True)


def test_a_sent_touchpoint_stays_put_when_delivery_moves(signed_in, user):
    contact = make_contact(user, delivered_on=date(2026, 3, 1))
    sent = make_touchpoint(
        contact, due_on=date(2026, 5, 30), from_delivery=True, state=TouchpointState.SENT
    )
    response = post_form(
        signed_in, f"/contacts/{contact.id}/edit", {**FULL, "delivered_on": "2026-04-01"}
    )
    db.session.refresh(sent)
    assert sent.due_on == date(2026, 5, 30)
    assert len(touchpoints_of(contact)) == 1
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved." in page and "A touchpoint is planned" not in page


def test_editing_other_details_leaves_a_hand_moved_touchpoint_alone(signed_in, user):
    contact = make_contact(user, delivered_on=date(2026, 3, 1))
    touchpoint = make_touchpoint(contact, due_on=date(2026, 7, 1), from_delivery=True)
    post_form(
        signed_in,
        f"/contacts/{contact.id}/edit",
        {**FULL, "delivered_on": "2026-03-01", "notes": "Now retired"},
    )
    db.session.refresh(touchpoint)
    db.session.refresh(contact)
    assert contact.notes == "Now retired"
    assert touchpoint.due_on == date(2026, 7, 1)


def test_the_edit_form_shows_the_saved_values(signed_in, user):
    contact = make_contact(user, name="Eve Edit", kind=ContactKind.COLLEAGUE, rhythm_days=30)
    page = signed_in.get(f"/contacts/{contact.id}/edit").get_data(as_text=True)
    assert 'value="Eve Edit"' in page
    assert '<option selected value="colleague">Colleague</option>' in page
    assert 'value="30"' in page


def test_the_rhythm_choice_is_offered_and_shown_on_the_contact(signed_in, user):
    form = signed_in.get("/contacts/new").get_data(as_text=True)
    assert "Regular touchpoints" in form
    assert "Your default (every 91 days)" in form
    assert "No regular touchpoints" in form

    default = make_contact(user, name="Rae Default")
    own = make_contact(user, name="Rae Own", rhythm_days=30)
    none = make_contact(user, name="Rae None", rhythm_days=0)
    expected = {
        default.id: "Every 91 days (your default)",
        own.id: "Every 30 days",
        none.id: "No regular touchpoints",
    }
    for contact_id, words in expected.items():
        detail = signed_in.get(f"/contacts/{contact_id}").get_data(as_text=True)
        assert words in detail


# Ownership


def test_another_professionals_contact_is_not_found(signed_in, user):
    stranger = make_user(email="other@example.com")
    theirs = make_contact(stranger, name="Not Yours")
    assert signed_in.get(f"/contacts/{theirs.id}").status_code == 404
    assert signed_in.get(f"/contacts/{theirs.id}/edit").status_code == 404
    response = post_form(
        signed_in, f"/contacts/{theirs.id}/edit", {**FULL, "name": "Hijacked"}, page="/contacts/new"
    )
    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.name == "Not Yours"
    assert "Not Yours" not in signed_in.get("/contacts/?q=yours").get_data(as_text=True)


# The list and search


def test_an_empty_list_offers_to_add_a_contact(signed_in):
    page = signed_in.get("/contacts/").get_data(as_text=True)
    assert "No contacts yet" in page
    assert 'href="/contacts/new"' in page


def test_contacts_are_listed_by_name_with_their_next_touchpoint(signed_in, user):
    soon = date.today() + timedelta(days=10)
    bea = make_contact(user, name="bea Lower", category="Attorney")
    make_touchpoint(bea, due_on=date.today() + timedelta(days=30))
    make_touchpoint(bea, due_on=soon)
    make_touchpoint(bea, due_on=date.today() - timedelta(days=40), state=TouchpointState.SENT)
    make_contact(user, name="Abe Upper", kind=ContactKind.FRIEND_FAMILY)
    make_contact(user, name="Cy Last")
    page = signed_in.get("/contacts/").get_data(as_text=True)
    assert page.index("Abe Upper") < page.index("bea Lower") < page.index("Cy Last")
    assert "Friend or family" in page and "Attorney" in page
    assert day(soon) in page
    assert "None planned" in page


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ann", {"Ann Archer", "Joanna Banks"}),
        ("ANN", {"Ann Archer", "Joanna Banks"}),
        ("@consult.example", {"Carl Coe"}),
        ("attor", {"Dee Dunn"}),
        ("%", set()),  # a literal, not a wildcard
        ("coecarl", set()),  # never a match running from the name into the email
        ("zzz", set()),
    ],
)
def test_search_by_name_email_or_category(signed_in, user, q, found):
    make_contact(user, name="Ann Archer")
    make_contact(user, name="Joanna Banks")
    make_contact(user, name="Carl Coe", email="carl@consult.example")
    make_contact(user, name="Dee Dunn", category="Attorney")
    page = signed_in.get("/contacts/", query_string={"q": q}).get_data(as_text=True)
    for name in ("Ann Archer", "Joanna Banks", "Carl Coe", "Dee Dunn"):
        assert (name in page) == (name in found), name
    if not found:
        assert "No contacts match" in page


def test_search_follows_an_edit_and_ignores_case_beyond_ascii(signed_in, user):
    contact = make_contact(user, name="Ann Old", category="Dentist")
    make_contact(user, name="Élodie Brun", email="elodie@example.net")
    response = post_form(
        signed_in,
        f"/contacts/{contact.id}/edit",
        {**FULL, "name": "Zoë Renamed", "email": "zoe@example.net", "category": "Architect"},
    )
    assert response.status_code == 303

    def found(q: str) -> str:
        return signed_in.get("/contacts/", query_string={"q": q}).get_data(as_text=True)

    assert "Zoë Renamed" in found("ZOË") and "Zoë Renamed" in found("architect")
    assert "No contacts match" in found("ann old") and "No contacts match" in found("dentist")
    assert "Élodie Brun" in found("élodie") and "Élodie Brun" in found("ÉLODIE")


def test_search_page_and_htmx_fragment(signed_in, user):
    make_contact(user, name="Ann Archer")
    make_contact(user, name="Bob Baker")

    full = signed_in.get("/contacts/?q=ann")
    page = full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    assert "<html" in page and 'name="q"' in page and 'value="ann"' in page
    assert 'hx-get="/contacts/"' in page and 'hx-target="#contact-results"' in page
    assert 'hx-push-url="true"' in page
    assert "Ann Archer" in page and "Bob Baker" not in page

    fragment = signed_in.get("/contacts/?q=ann", headers=HTMX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["Vary"]
    assert "<html" not in html and 'name="q"' not in html
    assert "Ann Archer" in html and "Bob Baker" not in html

    # Going back in history, htmx asks again and needs the whole page.
    restore = signed_in.get(
        "/contacts/?q=ann", headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.get_data(as_text=True)

    nothing = signed_in.get("/contacts/?q=zed", headers=HTMX).get_data(as_text=True)
    assert "No contacts match “zed”" in nothing
    assert 'href="/contacts/new?name=zed"' in nothing


def test_adding_from_an_empty_search_keeps_the_name(signed_in):
    page = signed_in.get("/contacts/new?name=Zed+Zhou").get_data(as_text=True)
    assert 'value="Zed Zhou"' in page


def test_the_list_is_paginated_and_keeps_the_search(app, signed_in, user):
    app.config["PER_PAGE"] = 3
    for name in ("Ann A", "Ann B", "Ann C", "Ann D", "Ann E", "Bob F"):
        make_contact(user, name=name)
    first = signed_in.get("/contacts/?q=ann").get_data(as_text=True)
    assert all(n in first for n in ("Ann A", "Ann B", "Ann C"))
    assert "Ann D" not in first
    assert "Page 1 of 2" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "q=ann" in next_link and "page=2" in next_link
    second = signed_in.get(next_link).get_data(as_text=True)
    assert "Ann D" in second and "Ann E" in second and "Ann A" not in second
    assert "Bob F" not in second
    assert signed_in.get("/contacts/?page=99").status_code == 200  # past the end: empty, not 500


def test_the_list_costs_the_same_queries_for_many_contacts(app, signed_in, user):
    def queries_for_list() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert signed_in.get("/contacts/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    contact = make_contact(user)
    make_touchpoint(contact)
    few = queries_for_list()
    for _ in range(8):
        make_touchpoint(make_contact(user))
    assert queries_for_list() == few
    assert few <= 10


def test_hundreds_of_contacts_cost_the_same_queries_and_say_more_than(
    app, signed_in, user, monkeypatch
):
    """Bulk-inserted contacts, past the count's cap: same queries, "more than", pages."""

    def queries_for(url: str) -> int:
        statements = []

        def listener(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith("BEGIN"):  # transactions, not queries
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert signed_in.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    urls = ("/contacts/", "/contacts/?q=ann")
    make_touchpoint(make_contact(user, name="Ann First"))
    few = {url: queries_for(url) for url in urls}
    ids = db.session.scalars(
        sa.insert(Contact).returning(Contact.id),
        [{"user_id": user.id, "name": f"Ann Number{n:03}"} for n in range(300)],
    ).all()
    db.session.execute(
        sa.insert(Touchpoint),
        [{"user_id": user.id, "contact_id": i, "due_on": date.today()} for i in ids],
    )
    db.session.commit()
    monkeypatch.setattr("app.helpers.COUNT_CAP", 200)
    for url, count in few.items():
        assert queries_for(url) == count, url
        assert count <= 10, url
    page = signed_in.get("/contacts/").get_data(as_text=True)
    assert "More than 200 contacts." in page
    assert "<span>Page 1</span>" in page and 'href="/contacts/?page=2"' in page
    search = signed_in.get("/contacts/?q=number", headers={"HX-Request": "true"})
    assert "More than 100 contacts match “number”." in search.get_data(as_text=True)
    short = signed_in.get("/contacts/?q=first").get_data(as_text=True)
    assert "1 contact match “first”." in short


# The detail page


def test_detail_shows_touchpoints_referrals_and_the_way_to_plan_one(signed_in, user):
    contact = make_contact(user, name="Dora Detail", terms_in_return="Lunch on me")
    touchpoint = make_touchpoint(contact, due_on=date.today() - timedelta(days=2))
    make_referral(contact, name="Pat Prospect")
    page = signed_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "<h1>Dora Detail</h1>" in page
    assert "Lunch on me" in page
    assert f'href="/touchpoints/{touchpoint.id}"' in page
    assert "Overdue" in page
    assert f'href="/touchpoints/new?contact_id={contact.id}"' in page
    assert "Pat Prospect" in page and "New" in page


def test_detail_lists_are_limited_and_counted(signed_in, user):
    contact = make_contact(user)
    for n in range(22):
        make_touchpoint(contact, due_on=date.today() + timedelta(days=n))
        make_referral(contact, name=f"Person {n:02d}")
    page = signed_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert page.count('href="/touchpoints/') - page.count('href="/touchpoints/"') - 1 == 20
    assert "Showing the latest 20 of 22" in page
    assert "Person 21" in page and "Person 00" not in page


def test_what_a_contact_typed_is_shown_as_text(signed_in, user):
    contact = make_contact(user, name="<script>alert(1)</script>", notes="<b>bold</b>")
    for url in ("/contacts/", f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit"):
        page = signed_in.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;" in page
    assert "<b>bold</b>" not in signed_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
