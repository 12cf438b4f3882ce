"""The five advocacy moments on a contact, and what planning a touchpoint shows of them.

Also the touchpoint page's option for clients: asking them to introduce their
other vendors.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app.extensions import db
from app.models import AdvocacyMoment, ContactKind, ContactMoment, Touchpoint, TouchpointState
from tests.conftest import csrf_from, post_form
from tests.factories import make_contact, make_touchpoint, make_user

HTMX = {"HX-Request": "true"}


def settled():
    db.session.rollback()


def text(response) -> str:
    return response.get_data(as_text=True)


def recorded(contact) -> dict[AdvocacyMoment, ContactMoment]:
    db.session.expire_all()
    rows = db.session.scalars(
        sa.select(ContactMoment).where(ContactMoment.contact_id == contact.id)
    ).all()
    return {row.moment: row for row in rows}


def save(client, contact, data: dict, **kwargs):
    settled()
    url = f"/contacts/{contact.id}/moments"
    return post_form(client, url, data, page=f"/contacts/{contact.id}", **kwargs)


@pytest.fixture
def ann(user):
    return make_contact(user, name="Ann Lee", email="ann@example.net")


def test_the_contact_page_shows_all_five_moments_unticked(signed_in, ann):
    settled()
    page = text(signed_in.get(f"/contacts/{ann.id}"))
    assert 'id="moments"' in page
    for moment in AdvocacyMoment:
        assert f"<legend>{escape(moment.label)}</legend>" in page
        assert f'name="{moment.value}-had"' in page
    assert "checked" not in page.split('id="moments"')[1].split("</section>")[0]
    assert "0 of 5 so far" in page


def test_tick_with_a_date_and_note_then_untick(signed_in, ann):
    response = save(
        signed_in,
        ann,
        {
            "insight-had": "y",
            "insight-happened_on": "2026-03-02",
            "insight-note": "Spotted the VAT refund they'd missed",
            "permission-had": "y",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/contacts/{ann.id}#moments")
    moments = recorded(ann)
    assert set(moments) == {AdvocacyMoment.INSIGHT, AdvocacyMoment.PERMISSION}
    assert moments[AdvocacyMoment.INSIGHT].happened_on == date(2026, 3, 2)
    assert moments[AdvocacyMoment.INSIGHT].note == "Spotted the VAT refund they'd missed"
    assert moments[AdvocacyMoment.PERMISSION].happened_on is None
    assert moments[AdvocacyMoment.INSIGHT].user_id == ann.user_id

    page = text(signed_in.get(f"/contacts/{ann.id}"))
    assert "Saved: Ann has had 2 of the 5 moments." in page
    assert re.search(r'<input[^>]*checked[^>]*name="insight-had"', page)
    assert 'value="2026-03-02"' in page
    assert "Spotted the VAT refund they&#39;d missed</textarea>" in page

    # Untick insight (its date and note go with it), change permission's note.
    save(
        signed_in,
        ann,
        {
            "insight-happened_on": "2026-03-02",
            "insight-note": "Spotted the VAT refund they'd missed",
            "permission-had": "y",
            "permission-note": "Said it at the review",
        },
    )
    moments = recorded(ann)
    assert set(moments) == {AdvocacyMoment.PERMISSION}
    assert moments[AdvocacyMoment.PERMISSION].note == "Said it at the review"


def test_a_bad_date_is_refused_and_everything_typed_is_kept(signed_in, ann):
    response = save(
        signed_in,
        ann,
        {
            "insight-had": "y",
            "insight-happened_on": "yesterday",
            "insight-note": "Kept note",
            "expectation-had": "y",
        },
    )
    assert response.status_code == 422
    page = text(response)
    assert "Enter a date like 2027-03-14" in page
    assert 'value="yesterday"' in page and "Kept note</textarea>" in page
    assert re.search(r'<input[^>]*checked[^>]*name="expectation-had"', page)
    assert 'aria-invalid="true"' in page
    assert "<h1>Advocacy moments for Ann Lee</h1>" in page  # a page of its own, no JS needed
    assert recorded(ann) == {}


def test_a_date_for_an_unticked_moment_asks_to_tick_it(signed_in, ann):
    response = save(signed_in, ann, {"vulnerability-happened_on": "2026-01-05"})
    assert response.status_code == 422
    assert "Tick this to record the moment" in text(response)
    assert recorded(ann) == {}


def test_htmx_gets_the_section_back(signed_in, ann):
    response = save(signed_in, ann, {"future_pacing-had": "y"}, headers=HTMX)
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<section class="card moments" id="moments"')
    assert 'role="status"' in fragment and "1 of the 5" in fragment
    assert "<html" not in fragment
    bad = save(
        signed_in, ann, {"future_pacing-had": "y", "future_pacing-note": "x" * 1001}, headers=HTMX
    )
    assert bad.status_code == 422
    assert "Keep the note under 1,000 characters." in text(bad)


def test_the_moments_page_works_on_its_own(signed_in, ann):
    settled()
    page = text(signed_in.get(f"/contacts/{ann.id}/moments"))
    assert "<h1>Advocacy moments for Ann Lee</h1>" in page


def test_another_professionals_contact_is_not_found(signed_in, ctx):
    other = make_user(email="other@example.com")
    stranger = make_contact(other, name="Stranger")
    settled()
    assert signed_in.get(f"/contacts/{stranger.id}/moments").status_code == 404
    token_page = signed_in.get("/contacts/")
    response = signed_in.post(
        f"/contacts/{stranger.id}/moments",
        data={"csrf_token": csrf_from(token_page), "insight-had": "y"},
    )
    assert response.status_code == 404
    assert recorded(stranger) == {}


def test_notes_are_escaped(signed_in, ann):
    save(signed_in, ann, {"insight-had": "y", "insight-note": "<script>alert(1)</script>"})
    page = text(signed_in.get(f"/contacts/{ann.id}"))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


# Planning a touchpoint: the readiness hint


def test_planning_a_touchpoint_shows_the_missing_moments(signed_in, ann):
    save(signed_in, ann, {"expectation-had": "y", "insight-had": "y", "permission-had": "y"})
    page = text(signed_in.get(f"/touchpoints/new?contact_id={ann.id}"))
    hint = page.split('class="readiness"')[1].split("</aside>")[0]
    assert "Before you ask" in hint
    assert escape(AdvocacyMoment.VULNERABILITY.label) in hint
    assert escape(AdvocacyMoment.FUTURE_PACING.label) in hint
    assert escape(AdvocacyMoment.EXPECTATION.label) not in hint
    assert escape(AdvocacyMoment.INSIGHT.label) not in hint
    assert "introduce you more readily" in hint

    touchpoint = make_touchpoint(ann)
    settled()
    detail = text(signed_in.get(f"/touchpoints/{touchpoint.id}"))
    assert AdvocacyMoment.FUTURE_PACING.label in detail.split('class="readiness"')[1]


def test_with_every_moment_the_hint_is_calm(signed_in, ann):
    save(signed_in, ann, {f"{moment.value}-had": "y" for moment in AdvocacyMoment})
    page = text(signed_in.get(f"/touchpoints/new?contact_id={ann.id}"))
    assert "has had all five advocacy moments" in page
    assert 'class="missing-moments"' not in page


def test_a_sent_touchpoint_shows_no_readiness_hint(signed_in, ann):
    touchpoint = make_touchpoint(ann, state=TouchpointState.SENT)
    settled()
    assert "Before you ask" not in text(signed_in.get(f"/touchpoints/{touchpoint.id}"))


# The touchpoint option for clients: ask for their other vendors


def test_a_client_touchpoint_can_ask_for_their_other_vendors(signed_in, ann):
    url = f"/touchpoints/new?contact_id={ann.id}"
    page = text(signed_in.get(url))
    assert "Also ask them to introduce their other vendors" in page
    assert 'aria-describedby="ask_for_vendors-hint"' in page
    settled()
    response = post_form(
        signed_in, url, {"due_on": date.today().isoformat(), "ask_count": 2, "ask_for_vendors": "y"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    touchpoint = db.session.scalar(sa.select(Touchpoint))
    assert touchpoint.ask_for_vendors is True
    detail = text(signed_in.get(f"/touchpoints/{touchpoint.id}"))
    assert re.search(r'<input[^>]*checked[^>]*name="ask_for_vendors"', detail)

    settled()
    post_form(
        signed_in,
        f"/touchpoints/{touchpoint.id}",
        {"due_on": date.today().isoformat(), "ask_count": 2, "message": "Hi", "save": "1"},
    )
    db.session.expire_all()
    assert db.session.get(Touchpoint, touchpoint.id).ask_for_vendors is False


def test_other_kinds_never_get_the_vendor_option(signed_in, user):
    vendor = make_contact(user, name="Val Vendor", kind=ContactKind.VENDOR)
    url = f"/touchpoints/new?contact_id={vendor.id}"
    settled()
    assert "introduce their other vendors" not in text(signed_in.get(url))
    response = post_form(
        signed_in, url, {"due_on": date.today().isoformat(), "ask_count": 2, "ask_for_vendors": "y"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(Touchpoint)).ask_for_vendors is False
