"""The most-wanted list: managing it, its figures, and the contact form's suggestions."""

from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Contact,
    ContactKind,
    ReferralStatus,
    TouchpointState,
    User,
    WantedCategory,
    utcnow,
)
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

TAG = re.compile(r"<[^>]+>")


def settled():
    """End the test's own transaction so the app can write (SQLite)."""
    db.session.rollback()


def get(client, url):
    settled()
    return client.get(url)


def post(client, url, data, page="/categories/"):
    settled()
    token = csrf_from(client.get(page))
    return client.post(url, data={"csrf_token": token, **data})


def add(client, name):
    return post(client, "/categories/add", {"name": name})


def category_id(name: str, user_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(WantedCategory.id).where(
            WantedCategory.user_id == user_id, WantedCategory.name == name
        )
    )


def text(fragment: str) -> str:
    """What a reader sees of some HTML: tags gone, entities decoded, spaces collapsed."""
    return " ".join(html_lib.unescape(TAG.sub(" ", fragment)).split())


def figures_row(html: str, ident: int) -> list[str]:
    """The figures cells of one category's row on the list page."""
    match = re.search(rf'<tr id="category-{ident}">(.*?)</tr>', html, re.S)
    assert match, f"no row for category {ident}"
    return [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def answered(contact, n=1):
    for _ in range(n):
        make_touchpoint(contact, state=TouchpointState.ANSWERED, answered_at=utcnow())


# --- The seeded world ------------------------------------------------------------------------


@pytest.fixture
def seeded(signed_in, user):
    """Four categories on the list, sources matching them (one by case and spaces only),
    referrals in several states, a vendor introduction, contacts outside the list, and
    another professional with the same category who must not count."""
    for name in ("Accountant", "Attorney", "Banker", "Insurance broker"):
        assert add(signed_in, name).status_code == 303
    user = db.session.get(User, user.id)

    acc1 = make_contact(user, name="Alice Accounts", category="Accountant")
    answered(acc1)
    make_touchpoint(acc1, state=TouchpointState.SENT)  # sent, not answered: not counted
    make_referral(acc1, status=ReferralStatus.WON, value_won=Decimal("1000"))
    make_referral(acc1, status=ReferralStatus.WON, value_won=Decimal("2500.50"))
    make_referral(acc1, status=ReferralStatus.NEW)
    # Was won once, then turned out not a fit: its old value must not count.
    make_referral(acc1, status=ReferralStatus.NOT_A_FIT, value_won=Decimal("500"))
    # A vendor Alice introduced is a new source, not a referral.
    make_referral(acc1, is_vendor=True, status=ReferralStatus.WON, value_won=Decimal("9999"))

    acc2 = make_contact(user, name="Bob Books", category="  accountant ")
    answered(acc2)
    make_referral(acc2, status=ReferralStatus.CONTACTED)
    make_contact(user, name="Carla Counts", category="ACCOUNTANT")

    att = make_contact(user, name="Dan Law", category="Attorney", kind=ContactKind.COLLEAGUE)
    answered(att, 2)
    make_contact(user, name="Eve Cover", category="Insurance broker")

    make_contact(user, name="Arch One", category="Architect")
    make_contact(user, name="Arch Two", category="architect")
    make_contact(user, name="Den Tist", category="Dentist")
    make_contact(user, name="No Category")

    other = make_user("other@example.com", display_name="Olga Other")
    db.session.add(WantedCategory(user_id=other.id, name="Accountant", position=1))
    db.session.commit()
    theirs = make_contact(other, name="Their Accountant", category="Accountant")
    answered(theirs, 3)
    make_referral(theirs, status=ReferralStatus.WON, value_won=Decimal("7777"))
    return user


def test_the_figures_match_the_seeded_data(signed_in, seeded):
    user_id = seeded.id
    response = get(signed_in, "/categories/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    #            sources, answered, referrals, won, value, conversion
    assert figures_row(html, category_id("Accountant", user_id)) == [
        "3",
        "2",
        "5",
        "2",
        "3,500.50",
        "40%",
    ]
    assert figures_row(html, category_id("Attorney", user_id)) == ["1", "2", "0", "0", "0", "–"]
    assert figures_row(html, category_id("Banker", user_id)) == ["0", "0", "0", "0", "0", "–"]
    assert figures_row(html, category_id("Insurance broker", user_id)) == [
        "1",
        "0",
        "0",
        "0",
        "0",
        "–",
    ]
    # In the order of the list.
    positions = [
        html.index(f'id="category-{category_id(n, user_id)}"')
        for n in ("Accountant", "Attorney", "Banker", "Insurance broker")
    ]
    assert positions == sorted(positions)


def test_thin_spots_get_a_useful_hint(signed_in, seeded):
    html = get(signed_in, "/categories/").get_data(as_text=True)
    thin = html[html.index('id="thin-heading"') : html.index('id="add-heading"')]
    hints = {
        text(name): text(hint) for name, hint in re.findall(r"<li>(.*?)</a>:(.*?)</li>", thin, re.S)
    }
    assert hints == {
        "Attorney": "Your attorneys have answered touchpoints but introduced nobody yet. Ask "
        "about someone by name: note the people you know they know on their contact, and the "
        "next touchpoint asks about each one.",
        "Banker": "You have no bankers yet. Your clients already work with some: at their next "
        "touchpoint, ask them to introduce theirs. If you know bankers already, give them the "
        'category "Banker" on their contact.',
        "Insurance broker": "No referrals from your insurance brokers yet, and none has answered "
        "a touchpoint. Plan one that brings them something useful for their own clients, then "
        "ask who they've already talked to about you.",
    }


def test_contacts_outside_the_list_are_counted_with_a_link_to_search(signed_in, seeded):
    html = get(signed_in, "/categories/").get_data(as_text=True)
    section = html[html.index('id="off-list-heading"') :]
    assert "3 contacts have a category that isn't on your list." in text(section)
    assert (
        '<a href="/contacts/?q=Architect">Architect</a> <span class="muted">(2)</span>' in section
    )
    assert '<a href="/contacts/?q=Dentist">Dentist</a> <span class="muted">(1)</span>' in section
    assert "1 contact has no category yet." in text(section)
    assert "Their Accountant" not in html


def test_a_category_page_lists_its_sources_with_their_figures(signed_in, seeded):
    ident = category_id("Accountant", seeded.id)
    html = get(signed_in, f"/categories/{ident}").get_data(as_text=True)
    assert "Alice Accounts" in html and "Bob Books" in html and "Carla Counts" in html
    assert "Dan Law" not in html and "Their Accountant" not in html
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", html, re.S)
    shown = [text(row) for row in rows]
    # Name, kind, touchpoints answered, referrals, clients won, value won; by name.
    assert shown == [
        "Alice Accounts Client 1 4 2 3,500.50",
        "Bob Books Client 1 1 0 0",
        "Carla Counts Client 0 0 0 0",
    ]
    assert "40%" in html


def test_the_list_page_costs_the_same_queries_whatever_the_data(app, signed_in, seeded):
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    settled()
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        signed_in.get("/categories/")
        before = len(statements)
        user = db.session.get(User, seeded.id)
        for n in range(4):
            db.session.add(WantedCategory(user_id=user.id, name=f"Extra {n}", position=10 + n))
            db.session.commit()
            contact = make_contact(user, category=f"extra {n}")
            answered(contact, 2)
            make_referral(contact, status=ReferralStatus.WON, value_won=Decimal("10"))
            make_contact(user, category=f"Elsewhere {n}")
        settled()
        statements.clear()
        signed_in.get("/categories/")
        after = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    # The signed-in user, every category's figures, the contacts outside the list.
    assert before == after == 3


# --- Managing the list -----------------------------------------------------------------------


def test_the_nav_links_to_the_list(signed_in):
    html = signed_in.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/categories/"\s*>Most wanted</a>', html)
    page = get(signed_in, "/categories/").get_data(as_text=True)
    assert 'href="/categories/" aria-current="page">Most wanted' in page


def test_an_empty_list_invites_a_start(signed_in):
    html = get(signed_in, "/categories/").get_data(as_text=True)
    assert "Start your list" in html
    assert "How each category is doing" not in html


def test_adding_puts_the_category_at_the_end_of_the_list(signed_in, user):
    user_id = user.id
    response = add(signed_in, "  Tax   advisor ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/categories/")
    add(signed_in, "Banker")
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(WantedCategory.name, WantedCategory.position)
        .where(WantedCategory.user_id == user_id)
        .order_by(WantedCategory.position)
    ).all()
    assert [name for name, _ in rows] == ["Tax advisor", "Banker"]
    html = get(signed_in, "/categories/").get_data(as_text=True)
    assert '"Banker" is on your most-wanted list.' in text(html)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Name the occupation, such as accountant or attorney."),
        ("   ", "Name the occupation, such as accountant or attorney."),
        ("x" * 121, "120 characters at most"),
        ("  ATTORNEY ", "is already on your list."),
    ],
)
def test_a_bad_name_is_refused_with_what_was_typed_kept(signed_in, user, name, message):
    add(signed_in, "Attorney")
    response = add(signed_in, name)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'aria-invalid="true"' in html
    if name.strip():
        assert f'value="{name.strip()}"' in html
    assert count_rows(WantedCategory) == 1


def test_the_list_holds_ten_at_most(signed_in, user):
    for n in range(10):
        assert add(signed_in, f"Occupation {n}").status_code == 303
    html = get(signed_in, "/categories/").get_data(as_text=True)
    assert "Your list has 10 categories, the most it holds." in html
    assert 'action="/categories/add"' not in html

    response = post(signed_in, "/categories/add", {"name": "Eleventh"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Your list already has 10 categories, the most it holds." in html
    assert 'value="Eleventh"' in html
    assert count_rows(WantedCategory) == 10


def test_a_category_outside_the_list_can_be_added_in_one_click(signed_in, user):
    make_contact(user, name="Arch One", category="Architect")
    html = get(signed_in, "/categories/").get_data(as_text=True)
    assert 'Add "Architect" to the list' in text(html)
    assert add(signed_in, "Architect").status_code == 303
    html = get(signed_in, "/categories/").get_data(as_text=True)
    ident = category_id("Architect", user.id)
    assert figures_row(html, ident)[0] == "1"


def test_renaming_takes_the_contacts_along_by_default(signed_in, user):
    add(signed_in, "Lawyer")
    user_id = user.id
    make_contact(user, name="Dan Law", category="lawyer")
    make_contact(user, name="Other Person", category="Lawyers and notaries")
    ident = category_id("Lawyer", user_id)
    url = f"/categories/{ident}"
    response = post(signed_in, f"{url}/rename", {"name": "Attorney", "contacts_too": "y"}, page=url)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url)
    db.session.expire_all()
    categories = dict(db.session.execute(sa.select(Contact.name, Contact.category)).all())
    assert categories == {"Dan Law": "Attorney", "Other Person": "Lawyers and notaries"}
    assert db.session.get(WantedCategory, ident).name == "Attorney"
    assert "1 contact moved with it." in get(signed_in, url).get_data(as_text=True)
    # The contacts search finds them under the new name, not the old one.
    found = get(signed_in, "/contacts/?q=attorney").get_data(as_text=True)
    assert "Dan Law" in found and "Other Person" not in found
    gone = get(signed_in, "/contacts/?q=lawyer").get_data(as_text=True)
    assert "Dan Law" not in gone and "Other Person" in gone


def test_renaming_without_the_contacts_leaves_them(signed_in, user):
    add(signed_in, "Lawyer")
    make_contact(user, name="Dan Law", category="Lawyer")
    ident = category_id("Lawyer", user.id)
    url = f"/categories/{ident}"
    response = post(signed_in, f"{url}/rename", {"name": "Attorney"}, page=url)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(Contact.category)) == "Lawyer"


def test_renaming_to_a_name_on_the_list_is_refused(signed_in, user):
    add(signed_in, "Lawyer")
    add(signed_in, "Banker")
    ident = category_id("Lawyer", user.id)
    url = f"/categories/{ident}"
    response = post(signed_in, f"{url}/rename", {"name": "banker"}, page=url)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "is already on your list." in html and 'value="banker"' in html
    db.session.expire_all()
    assert db.session.get(WantedCategory, ident).name == "Lawyer"


def test_removing_keeps_the_contacts_category(signed_in, user):
    add(signed_in, "Lawyer")
    make_contact(user, name="Dan Law", category="Lawyer")
    ident = category_id("Lawyer", user.id)
    url = f"/categories/{ident}"
    response = post(signed_in, f"{url}/remove", {}, page=url)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/categories/")
    assert count_rows(WantedCategory) == 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(Contact.category)) == "Lawyer"
    assert get(signed_in, url).status_code == 404


def test_another_professionals_category_is_not_found(signed_in, user):
    other = make_user("other@example.com")
    theirs = WantedCategory(user_id=other.id, name="Banker", position=1)
    db.session.add(theirs)
    db.session.commit()
    ident = theirs.id
    url = f"/categories/{ident}"
    assert get(signed_in, url).status_code == 404
    assert post(signed_in, f"{url}/rename", {"name": "Mine now"}).status_code == 404
    assert post(signed_in, f"{url}/remove", {}).status_code == 404
    db.session.expire_all()
    assert db.session.get(WantedCategory, ident).name == "Banker"
    assert get(signed_in, "/categories/99999999999999999999").status_code == 404


def test_the_list_needs_signing_in(client, user):
    response = client.get("/categories/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_category_name_is_escaped_everywhere(signed_in, user):
    evil = "<script>alert(1)</script>"
    assert add(signed_in, evil).status_code == 303
    make_contact(user, name="Sam Script", category=evil)
    make_contact(user, name="Off List", category="<b>bold</b>")
    ident = category_id(evil, user.id)
    pages = [
        get(signed_in, "/categories/").get_data(as_text=True),
        get(signed_in, f"/categories/{ident}").get_data(as_text=True),
        get(signed_in, "/contacts/new").get_data(as_text=True),
    ]
    for html in pages:
        assert evil not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- The contact form suggests the list first ------------------------------------------------


def test_the_contact_form_suggests_the_most_wanted_first(signed_in, user):
    for name in ("Banker", "Accountant"):
        add(signed_in, name)
    make_contact(user, name="Arch One", category="Architect")
    make_contact(user, name="Acc One", category="accountant")  # the list's words: not twice
    make_contact(user, name="Den One", category="Dentist")
    html = get(signed_in, "/contacts/new").get_data(as_text=True)
    datalist = re.search(r'<datalist id="categories">(.*?)</datalist>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)">', datalist) == [
        "Banker",
        "Accountant",
        "Architect",
        "Dentist",
    ]
    assert "Your most-wanted list: Banker, Accountant." in html
    assert "The same words (capitals aside) put them in that category" in html


def test_a_contact_saved_with_the_lists_words_lands_in_the_category(signed_in, user):
    add(signed_in, "Accountant")
    response = post(
        signed_in,
        "/contacts/new",
        {
            "name": "Nina New",
            "kind": "client",
            "category": "accountant",
            "rhythm_choice": "default",
        },
        page="/contacts/new",
    )
    assert response.status_code == 303
    html = get(signed_in, "/categories/").get_data(as_text=True)
    assert figures_row(html, category_id("Accountant", user.id))[0] == "1"
