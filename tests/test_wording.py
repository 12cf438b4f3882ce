"""Words per kind of source (Settings), and the agreed terms in the touchpoint message."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import sqlalchemy as sa

from app.capture.wording import ASK_FRAMING, ask_framing, kind_wording, words_to_say
from app.extensions import db
from app.models import ContactKind, KindWording, User
from app.tokens import client_link_token
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_touchpoint, make_user

URL = "/settings/wording"
VENDOR_FRAMING = "We both look after Bright Dental: who else do you serve that I could help?"


def settled():
    """End the test's own transaction so the app can write (SQLite)."""
    db.session.rollback()


def page(client) -> str:
    settled()
    response = client.get(URL)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return html_lib.unescape(match.group(1)).strip()


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html_lib.unescape(value.group(1)) if value else ""


def form_as_shown(html: str) -> dict:
    """Every field as the page shows it, as a browser would post it back unchanged."""
    data = {"csrf_token": csrf_from_html(html)}
    for kind in ContactKind:
        data[f"{kind.value}-ask_framing"] = textarea(html, f"{kind.value}-ask_framing")
        data[f"{kind.value}-value_proposition"] = input_value(
            html, f"{kind.value}-value_proposition"
        )
        data[f"{kind.value}-blurb"] = textarea(html, f"{kind.value}-blurb")
    return data


def csrf_from_html(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def save(client, changes: dict):
    """Post the page as shown, with ``changes`` typed in."""
    data = form_as_shown(page(client))
    data.update(changes)
    settled()
    return client.post(URL, data=data)


def row_for(user_id: int, kind: ContactKind) -> KindWording | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(KindWording).where(KindWording.user_id == user_id, KindWording.kind == kind)
    )


def summary_row(html: str, label: str) -> str:
    match = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{label}</a></th>(.*?)</tr>", html, re.S)
    assert match, f"no summary row for {label}"
    return match.group(1)


# --- The settings page ---------------------------------------------------------------------


def test_settings_links_to_the_words_per_kind(signed_in):
    html = signed_in.get("/settings").get_data(as_text=True)
    assert f'href="{URL}"' in html


def test_every_kind_shows_its_default_framing_with_the_professionals_first_name(signed_in):
    html = page(signed_in)
    for kind in ContactKind:
        assert textarea(html, f"{kind.value}-ask_framing") == ASK_FRAMING[kind].format(pro="Dana")
        assert input_value(html, f"{kind.value}-value_proposition") == ""
        assert textarea(html, f"{kind.value}-blurb") == ""
    # Which kinds use the defaults: all of them, said per kind.
    for label in ("Clients", "Vendors", "Friends and family"):
        row = summary_row(html, label)
        assert "Default" in row and "General" in row and "Your words" not in row
    # The vendor's default is about the shared client; friends and family's is shorter.
    assert "better served" in ASK_FRAMING[ContactKind.VENDOR]
    assert len(ASK_FRAMING[ContactKind.FRIEND_FAMILY]) < len(ASK_FRAMING[ContactKind.CLIENT])


def test_saving_the_page_unchanged_stores_nothing(signed_in):
    response = save(signed_in, {})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(URL)
    assert count_rows(KindWording) == 0


def test_an_override_is_saved_for_its_kind_only_and_shown_as_yours(signed_in, user):
    user_id = user.id
    response = save(
        signed_in,
        {
            "vendor-ask_framing": VENDOR_FRAMING,
            "friend_family-value_proposition": "my cousin who sorts out tax bills",
            "friend_family-blurb": "Dana is lovely and very good with numbers.",
        },
    )
    assert response.status_code == 303
    settled()
    follow = signed_in.get(URL).get_data(as_text=True)
    assert "Your words for each kind of source are saved." in follow

    vendor = row_for(user_id, ContactKind.VENDOR)
    assert (vendor.ask_framing, vendor.value_proposition, vendor.blurb) == (VENDOR_FRAMING, "", "")
    friends = row_for(user_id, ContactKind.FRIEND_FAMILY)
    assert friends.ask_framing == ""  # the default, untouched, keeps following the default
    assert friends.value_proposition == "my cousin who sorts out tax bills"
    assert friends.blurb == "Dana is lovely and very good with numbers."
    assert row_for(user_id, ContactKind.CLIENT) is None  # rows only for kinds with words
    assert count_rows(KindWording) == 2

    assert textarea(follow, "vendor-ask_framing") == VENDOR_FRAMING
    vendor_summary = summary_row(follow, "Vendors")
    assert "Your words" in vendor_summary and "General" in vendor_summary
    assert "Your words" not in summary_row(follow, "Clients")
    # An overridden framing says what the default was, to come back to it.
    assert "Empty this box to go back to the default" in follow

    # What the referrer's pages use for each kind.
    owner = db.session.get(User, user_id)
    own = kind_wording(owner, ContactKind.VENDOR)
    assert ask_framing(owner, ContactKind.VENDOR, own) == VENDOR_FRAMING
    own_friends = kind_wording(owner, ContactKind.FRIEND_FAMILY)
    assert words_to_say(owner, own_friends) == (
        "Dana Reyes my cousin who sorts out tax bills.",
        "Dana is lovely and very good with numbers.",
    )
    client_own = kind_wording(owner, ContactKind.CLIENT)
    assert client_own is None
    assert ask_framing(owner, ContactKind.CLIENT, None) == ASK_FRAMING[ContactKind.CLIENT].format(
        pro="Dana"
    )
    assert words_to_say(owner, None)[0] == "Dana Reyes helps dental practices cut their tax bill."


def test_clearing_an_override_falls_back_to_the_default(signed_in, user):
    user_id = user.id
    save(
        signed_in,
        {"vendor-ask_framing": VENDOR_FRAMING, "vendor-value_proposition": "fixes payroll"},
    )
    response = save(signed_in, {"vendor-ask_framing": "   ", "vendor-value_proposition": ""})
    assert response.status_code == 303

    vendor = row_for(user_id, ContactKind.VENDOR)
    assert (vendor.ask_framing, vendor.value_proposition) == ("", "")
    html = page(signed_in)
    default = ASK_FRAMING[ContactKind.VENDOR].format(pro="Dana")
    assert textarea(html, "vendor-ask_framing") == default
    assert "Your words" not in summary_row(html, "Vendors")
    owner = db.session.get(User, user_id)
    assert ask_framing(owner, ContactKind.VENDOR, kind_wording(owner, ContactKind.VENDOR)) == (
        default
    )
    assert words_to_say(owner, kind_wording(owner, ContactKind.VENDOR))[0] == (
        "Dana Reyes helps dental practices cut their tax bill."
    )


def test_typing_the_general_line_again_is_not_an_override(signed_in, user):
    user_id = user.id
    save(signed_in, {"client-value_proposition": "helps dental practices cut their tax bill"})
    assert row_for(user_id, ContactKind.CLIENT) is None


@pytest.mark.parametrize(
    ("field", "length", "message"),
    [
        ("vendor-ask_framing", 601, "600 characters at most"),
        ("colleague-value_proposition", 281, "280 characters at most"),
        ("other-blurb", 2001, "2,000 characters at most"),
    ],
)
def test_too_long_is_refused_with_what_was_typed_kept_and_nothing_saved(
    signed_in, field, length, message
):
    typed = "x" * length
    response = save(
        signed_in,
        {field: typed, "client-value_proposition": "a line that must not be half-saved"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert typed in html
    assert "a line that must not be half-saved" in html
    assert 'aria-invalid="true"' in html
    assert "Nothing was saved yet." in html
    assert count_rows(KindWording) == 0


def test_words_are_escaped_on_the_settings_page(signed_in):
    evil = "<script>alert(1)</script>"
    save(signed_in, {"vendor-ask_framing": evil, "vendor-value_proposition": evil})
    html = page(signed_in)
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_one_professionals_words_never_reach_another(signed_in, user):
    other = make_user("other@example.com", display_name="Olga Other")
    other_id = other.id
    save(signed_in, {"vendor-ask_framing": VENDOR_FRAMING})
    owner = db.session.get(User, other_id)
    assert kind_wording(owner, ContactKind.VENDOR) is None
    assert ask_framing(owner, ContactKind.VENDOR, None).startswith("You and Olga")


def test_the_words_page_needs_signing_in(client, user):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- The referrer's form uses the words for their kind ---------------------------------------


def test_a_vendors_form_uses_the_vendor_framing(signed_in, user):
    user_id = user.id
    save(signed_in, {"vendor-ask_framing": VENDOR_FRAMING})
    owner = db.session.get(User, user_id)
    vendor = make_contact(owner, name="Victor Vendor", kind=ContactKind.VENDOR)
    client_contact = make_contact(owner, name="Clara Client", kind=ContactKind.CLIENT)
    vendor_link = f"/r/{client_link_token(make_touchpoint(vendor))}"
    client_link = f"/r/{client_link_token(make_touchpoint(client_contact))}"
    settled()

    vendor_form = html_lib.unescape(signed_in.get(vendor_link).get_data(as_text=True))
    assert VENDOR_FRAMING in vendor_form
    client_form = html_lib.unescape(signed_in.get(client_link).get_data(as_text=True))
    assert VENDOR_FRAMING not in client_form
    assert ASK_FRAMING[ContactKind.CLIENT].format(pro="Dana") in client_form


def test_a_friends_form_uses_the_default_friend_framing(signed_in, user):
    friend = make_contact(user, name="Fran Friend", kind=ContactKind.FRIEND_FAMILY)
    token_url = f"/r/{client_link_token(make_touchpoint(friend))}"
    settled()
    html = html_lib.unescape(signed_in.get(token_url).get_data(as_text=True))
    assert ASK_FRAMING[ContactKind.FRIEND_FAMILY].format(pro="Dana") in html


# --- Agreed terms in the touchpoint message -------------------------------------------------


def message_for(user, **terms) -> str:
    contact = make_contact(user, name="Ann Lee", **terms)
    return make_touchpoint(contact, value_offered="We reviewed your quarter.").message


def test_the_message_weaves_in_every_agreed_term(user):
    message = message_for(
        user,
        terms_what_counts="Someone with a real need, not a name from a phone book.",
        terms_how_many=3,
        terms_in_return="send you my quarterly market note",
    )
    assert message == (
        "Hi Ann,\n\n"
        "We reviewed your quarter.\n\n"
        "When we started working together, we agreed on what makes a good introduction: "
        "someone with a real need, not a name from a phone book. You mentioned you'd be glad "
        "to introduce about 3 people, and in return I'll send you my quarterly market note.\n\n"
        "Who are the 2 people you've already talked to about working with me? The link below "
        "takes a minute and lets you tell me how you'd like the introduction to happen.\n\n"
        "Thank you,\nDana Reyes"
    )


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (
            {"terms_how_many": 1},
            "When we started working together, you mentioned you'd be glad to introduce "
            "one person.",
        ),
        (
            {"terms_how_many": 4, "terms_in_return": "A free review of their own books"},
            "When we started working together, you mentioned you'd be glad to introduce about "
            "4 people, and in return I promised you a free review of their own books.",
        ),
        (
            {"terms_in_return": "I'll send you the quarterly review."},
            "When we started working together, I said that in return for your introductions "
            "I'd send you the quarterly review.",
        ),
        (
            {"terms_in_return": "Lunch on me"},
            "When we started working together, I promised you lunch on me in return for your "
            "introductions.",
        ),
        (
            {"terms_what_counts": "Owners\nwith a payroll headache", "terms_in_return": "a visit"},
            "When we started working together, we agreed on what makes a good introduction: "
            "owners with a payroll headache. In return for your introductions, I promised you "
            "a visit.",
        ),
    ],
)
def test_the_message_is_graceful_with_some_terms(user, terms, expected):
    message = message_for(user, **terms)
    paragraphs = message.split("\n\n")
    assert paragraphs[:2] == ["Hi Ann,", "We reviewed your quarter."]
    assert paragraphs[2] == expected
    assert paragraphs[3].startswith("Who are the 2 people you've already talked to")
    assert paragraphs[-1] == "Thank you,\nDana Reyes"


def test_the_message_without_terms_keeps_its_plain_structure(user):
    message = message_for(user, terms_what_counts="  ", terms_in_return="")
    assert message == (
        "Hi Ann,\n\n"
        "We reviewed your quarter.\n\n"
        "My practice grows through introductions from people I've worked with. Who are the 2 "
        "people you've already talked to about working with me? The link below takes a minute "
        "and lets you tell me how you'd like the introduction to happen.\n\n"
        "Thank you,\nDana Reyes"
    )


def test_asking_for_one_person_reads_in_the_singular(user):
    contact = make_contact(user, name="Ann Lee")
    message = make_touchpoint(contact, ask_count=1).message
    assert "Who is the one person you've already talked to about working with me?" in message


def test_the_touchpoint_page_pre_fills_the_terms(signed_in, user):
    contact = make_contact(
        user, name="Ann Lee", terms_how_many=2, terms_in_return="a free service visit"
    )
    url = f"/touchpoints/new?contact_id={contact.id}"
    settled()
    token = csrf_from(signed_in.get(url))
    data = {"csrf_token": token, "due_on": "2030-01-01", "value_offered": "A payroll audit."}
    response = signed_in.post(url, data={**data, "ask_count": 2})
    assert response.status_code == 303
    settled()
    detail = html_lib.unescape(signed_in.get(response.headers["Location"]).get_data(as_text=True))
    assert (
        "you mentioned you'd be glad to introduce about 2 people, and in return I promised "
        "you a free service visit." in detail
    )
