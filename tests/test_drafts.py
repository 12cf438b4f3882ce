"""'Draft an introduction for me to send', through HTTP.

The professional writes the introduction on the referral's page and tells the
referrer it is ready (once); the referrer sees it on their link page, edits it,
and their "send it from my email" link carries their version, encoded as RFC
6068 asks (CRLF line breaks, UTF-8 percent-encoding, "&" encoded). Referloop
never emails the referred person.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa

from app.capture.drafts import default_body, default_subject
from app.extensions import db
from app.models import (
    EventKind,
    IntroMethod,
    OutboundEmail,
    Referral,
    ReferralEvent,
    UpdatePreference,
    UpdateState,
    utcnow,
)
from app.tokens import client_link_token
from tests.conftest import csrf_from
from tests.factories import make_contact, make_referral, make_touchpoint, make_user

HTMX = {"HX-Request": "true"}
EDIT_SUBJECT = "David & Dana: café next week?"
EDIT_BODY = "Hi David,\n\nMeet Dana: she sorted our taxes & saved us a fortune.\n\nCheers,\nAnn"
SEND_LINK = re.compile(r'<a class="button" id="draft-(\d+)-send" href="([^"]+)"')


def settled():
    """End the test's transaction so the app's request can take SQLite's write lock."""
    db.session.rollback()


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(referral: Referral) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral.id)


def events(referral: Referral) -> list[ReferralEvent]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(ReferralEvent).where(
            ReferralEvent.referral_id == referral.id, ReferralEvent.kind == EventKind.DRAFT
        )
    ).all()


def emails() -> list[OutboundEmail]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboundEmail).order_by(OutboundEmail.id)).all()


def send_links(page: str) -> dict[int, str]:
    """Every "Send it from my email" link on a page, by referral id (HTML-unescaped)."""
    return {int(rid): html.unescape(href) for rid, href in SEND_LINK.findall(page)}


def decode(mailto: str) -> tuple[str, dict[str, str]]:
    """(address, fields) of a mailto link, decoded back as a mail client would."""
    parts = urlsplit(mailto)
    assert parts.scheme == "mailto"
    fields = {key: values[0] for key, values in parse_qs(parts.query, encoding="utf-8").items()}
    return unquote(parts.path), fields


@pytest.fixture
def ann(user):
    return make_contact(
        user,
        name="Ann Lee",
        email="ann@example.net",
        update_preference=UpdatePreference.EVERY_STEP,
    )


@pytest.fixture
def touchpoint(ann):
    return make_touchpoint(ann, answered_at=utcnow())


@pytest.fixture
def david(ann, touchpoint):
    return make_referral(
        ann,
        touchpoint,
        name="David Jones",
        email="david@example.org",
        need="Wants a second opinion on their tax planning.",
        intro_method=IntroMethod.DRAFT_FOR_REFERRER,
    )


@pytest.fixture
def link(touchpoint) -> str:
    return f"/r/{client_link_token(touchpoint)}"


def pro_post(client, referral, data: dict, **kwargs):
    settled()
    token = csrf_from(client.get(f"/referrals/{referral.id}"))
    return client.post(
        f"/referrals/{referral.id}/draft", data={"csrf_token": token, **data}, **kwargs
    )


def save_draft(client, referral, *, action="save", subject="Introducing Dana and David", body=None):
    body = "Hi David,\n\nI'd like you to meet Dana.\n\nBest wishes,\nAnn" if body is None else body
    return pro_post(client, referral, {"subject": subject, "body": body, "action": action})


def referrer_post(client, link: str, referral, data: dict, **kwargs):
    settled()
    token = csrf_from(client.get(link))
    return client.post(f"{link}/draft/{referral.id}", data={"csrf_token": token, **data}, **kwargs)


# The professional's side


def test_the_referral_page_offers_a_prefilled_draft_in_the_referrers_voice(signed_in, david):
    settled()
    page = text(signed_in.get(f"/referrals/{david.id}"))
    assert "The introduction Ann will send" in page
    assert 'value="Introducing Dana Reyes and David"' in page
    body = default_body(fresh(david))
    assert body.startswith("Hi David,")
    assert "Dana Reyes helps dental practices cut their tax bill." in body  # the one line
    assert "a second opinion on their tax planning." in body  # the need
    assert body.endswith("Best wishes,\nAnn")  # the referrer's sign-off
    assert "pro@example.com" in body
    assert html.escape(body, quote=False).replace("'", "&#39;") in page
    assert "Save and tell Ann" in page


def test_no_draft_section_for_other_introduction_methods(signed_in, ann):
    other = make_referral(ann, intro_method=IntroMethod.MENTION_REFERRER)
    settled()
    assert "will send" not in text(signed_in.get(f"/referrals/{other.id}"))
    assert save_draft(signed_in, other).status_code == 404
    assert fresh(other).intro_draft == ""


def test_saving_keeps_the_draft_and_tells_nobody(signed_in, david):
    response = save_draft(signed_in, david, body="Hi David,\r\n\r\nMeet Dana.\r\n")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/referrals/{david.id}#draft")
    saved = fresh(david)
    assert saved.intro_draft == "Hi David,\n\nMeet Dana."
    assert saved.intro_draft_subject == "Introducing Dana and David"
    assert events(david) == [] and emails() == []
    page = text(signed_in.get(f"/referrals/{david.id}"))
    assert "Draft saved. Ann sees it on their page." in page
    assert "hasn't been told about it yet" in page


def test_save_and_tell_tells_the_referrer_once(signed_in, david):
    assert save_draft(signed_in, david, action="tell").status_code == 303
    assert save_draft(signed_in, david, action="tell").status_code == 303  # a second click
    (event,) = events(david)
    assert event.update_state == UpdateState.QUEUED
    assert "written the introduction to David" in event.referrer_message
    (email,) = emails()
    assert email.to_email == "ann@example.net"  # the referrer, never the person
    assert "written the introduction to David" in email.body_text
    assert not any("david@example.org" in e.to_email for e in emails())
    page = text(signed_in.get(f"/referrals/{david.id}"))
    assert "Ann was told it's ready on" in page
    assert "Introduction drafted for Ann to send" in page  # in the history


def test_the_referrer_who_cannot_be_emailed_gets_the_draft_saved_and_a_warning(signed_in, user):
    no_email = make_contact(user, name="Bo Chen", email="")
    referral = make_referral(no_email, intro_method=IntroMethod.DRAFT_FOR_REFERRER)
    response = save_draft(signed_in, referral, action="tell")
    assert response.status_code == 303
    assert fresh(referral).intro_draft.startswith("Hi David")
    (event,) = events(referral)
    assert event.update_state == UpdateState.SKIPPED
    assert emails() == []
    page = text(signed_in.get(f"/referrals/{referral.id}"))
    assert "can&#39;t tell Bo it&#39;s ready" in page
    assert "Let Bo know another way" in page


def test_without_a_working_link_the_update_carries_the_draft_itself(signed_in, user):
    bo = make_contact(user, name="Bo Chen", email="bo@example.net")
    referral = make_referral(bo, intro_method=IntroMethod.DRAFT_FOR_REFERRER)  # no touchpoint
    save_draft(signed_in, referral, action="tell", body="Hi there,\n\nMeet Dana.")
    (email,) = emails()
    assert "Subject: Introducing Dana and David" in email.body_text
    assert "Meet Dana." in email.body_text


def test_an_empty_draft_is_refused_with_what_was_typed_kept(signed_in, david):
    response = save_draft(signed_in, david, subject="Keep this subject", body="   ")
    assert response.status_code == 422
    page = text(response)
    assert "Write the introduction first." in page
    assert 'value="Keep this subject"' in page
    assert fresh(david).intro_draft == ""


def test_another_professionals_referral_is_not_found(signed_in, ctx):
    other = make_user(email="other@example.com")
    contact = make_contact(other)
    referral = make_referral(contact, intro_method=IntroMethod.DRAFT_FOR_REFERRER)
    settled()
    assert signed_in.get(f"/referrals/{referral.id}").status_code == 404
    token = csrf_from(signed_in.get("/referrals/"))
    response = signed_in.post(
        f"/referrals/{referral.id}/draft",
        data={"csrf_token": token, "subject": "x", "body": "y", "action": "tell"},
    )
    assert response.status_code == 404
    assert fresh(referral).intro_draft == ""


# The referrer's side


def test_the_referrer_sees_the_draft_and_a_mailto_link_to_the_person(
    signed_in, client, david, link
):
    body = "Hi David,\n\nMeet Dana Reyes.\n\nBest wishes,\nAnn"
    save_draft(signed_in, david, body=body)
    settled()
    page = text(client.get(link))
    assert "Your introduction of David Jones" in page
    assert "Introducing Dana and David" in page
    assert f'id="draft-{david.id}-body"' in page
    address, fields = decode(send_links(page)[david.id])
    assert address == "david@example.org"
    assert fields == {"subject": "Introducing Dana and David", "body": body.replace("\n", "\r\n")}
    assert f'data-copy="#draft-{david.id}-body"' in page


def test_a_person_without_a_draft_shows_none(signed_in, client, david, ann, touchpoint, link):
    make_referral(ann, touchpoint, name="Zoe Park", intro_method=IntroMethod.DRAFT_FOR_REFERRER)
    save_draft(signed_in, david)
    settled()
    page = text(client.get(link))
    assert list(send_links(page)) == [david.id]


def test_the_referrers_edit_is_saved_and_the_mailto_carries_it_encoded(
    signed_in, client, david, link
):
    save_draft(signed_in, david, action="tell")
    response = referrer_post(
        client,
        link,
        david,
        {"subject": EDIT_SUBJECT, "body": EDIT_BODY.replace("\n", "\r\n"), "action": "save"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#draft-{david.id}")
    saved = fresh(david)
    assert saved.intro_draft_by_referrer == EDIT_BODY
    assert saved.intro_draft_subject == EDIT_SUBJECT
    assert saved.intro_draft.startswith("Hi David,\n\nI'd like you to meet Dana.")  # theirs kept

    page = text(client.get(link))
    assert "now uses this version" in page
    href = send_links(page)[david.id]
    raw_query = href.split("?", 1)[1]
    assert "%0D%0A" in raw_query and "\n" not in raw_query and " " not in raw_query
    assert "caf%C3%A9" in raw_query  # é as UTF-8
    assert "%26" in raw_query and raw_query.count("&") == 1  # only the field separator
    address, fields = decode(href)
    assert address == "david@example.org"
    assert fields["subject"] == EDIT_SUBJECT
    assert fields["body"] == EDIT_BODY.replace("\n", "\r\n")

    # The professional sees the referrer made it their own.
    settled()
    pro_page = text(signed_in.get(f"/referrals/{david.id}"))
    assert "Ann has edited it." in pro_page
    assert html.escape("taxes & saved us", quote=False) in pro_page
    # Ann was told once; editing tells nobody.
    assert len(events(david)) == 1 and len(emails()) == 1


def test_an_unchanged_message_is_not_an_edit_and_going_back_restores_the_draft(
    signed_in, client, david, link
):
    save_draft(signed_in, david, body="Hi David,\n\nMeet Dana.")
    referrer_post(client, link, david, {"subject": "Hello", "body": "Hi David,\r\n\r\nMeet Dana."})
    assert fresh(david).intro_draft_by_referrer == ""
    referrer_post(client, link, david, {"subject": "Hello", "body": "My own words"})
    assert fresh(david).intro_draft_by_referrer == "My own words"
    response = referrer_post(client, link, david, {"action": "reset"})
    assert response.status_code == 303
    assert fresh(david).intro_draft_by_referrer == ""
    _, fields = decode(send_links(text(client.get(link)))[david.id])
    assert fields["body"] == "Hi David,\r\n\r\nMeet Dana."


def test_an_empty_edit_is_refused_and_keeps_what_was_typed(signed_in, client, david, link):
    save_draft(signed_in, david)
    response = referrer_post(client, link, david, {"subject": "My subject", "body": " "})
    assert response.status_code == 422
    page = text(response)
    assert 'value="My subject"' in page
    assert "Write the message" in page
    assert fresh(david).intro_draft_by_referrer == ""

    htmx = referrer_post(client, link, david, {"subject": "", "body": "Kept words"}, headers=HTMX)
    assert htmx.status_code == 422
    fragment = text(htmx)
    assert fragment.lstrip().startswith('<div class="intro-draft"')
    assert "Write a subject line." in fragment and ">Kept words</textarea>" in fragment


def test_htmx_save_returns_the_section_with_the_new_link(signed_in, client, david, link):
    save_draft(signed_in, david)
    response = referrer_post(
        client, link, david, {"subject": EDIT_SUBJECT, "body": EDIT_BODY}, headers=HTMX
    )
    assert response.status_code == 200
    fragment = text(response)
    assert 'role="status"' in fragment and "<html" not in fragment
    _, fields = decode(send_links(fragment)[david.id])
    assert fields["body"] == EDIT_BODY.replace("\n", "\r\n")


def test_another_contacts_referral_is_not_found(signed_in, client, david, link, user):
    bo = make_contact(user, name="Bo Chen")
    theirs = make_referral(bo, intro_method=IntroMethod.DRAFT_FOR_REFERRER)
    save_draft(signed_in, theirs)
    response = referrer_post(client, link, theirs, {"subject": "Mine", "body": "Mine now"})
    assert response.status_code == 404
    assert fresh(theirs).intro_draft_by_referrer == ""
    # And a referral of theirs without a draft is not found either.
    save_draft(signed_in, david, action="save")
    other = make_referral(fresh(david).contact, intro_method=IntroMethod.MENTION_REFERRER)
    assert referrer_post(client, link, other, {"subject": "a", "body": "b"}).status_code == 404


@pytest.mark.parametrize("problem", ["expired", "revoked"])
def test_a_link_that_no_longer_works_cannot_edit(
    signed_in, client, david, link, touchpoint, app, problem
):
    save_draft(signed_in, david)
    settled()
    token = csrf_from(client.get(link))
    if problem == "expired":
        app.config["CLIENT_LINK_MAX_AGE"] = -1
    else:
        touchpoint = db.session.merge(touchpoint)
        touchpoint.revoke_link()
        db.session.commit()
    response = client.post(
        f"{link}/draft/{david.id}",
        data={"csrf_token": token, "subject": "Changed", "body": "Changed"},
    )
    assert response.status_code == 303
    saved = fresh(david)
    assert saved.intro_draft_by_referrer == "" and saved.intro_draft_subject != "Changed"
    page = client.get(link)
    assert page.status_code == 410
    html_page = text(page)
    assert "<textarea" not in html_page
    if problem == "expired":
        # Still readable and sendable, read-only.
        assert "Your introduction of David Jones" in html_page
        assert david.id in send_links(html_page)
        assert "changes can't be saved here" in html_page
    else:
        assert "Your introduction of" not in html_page


def test_user_text_is_escaped_on_both_sides(signed_in, client, david, link):
    evil = "<script>alert('x')</script>"
    save_draft(signed_in, david, subject=f"Hi {evil}", body=f"Hi {evil}")
    settled()
    for page in (text(client.get(link)), text(signed_in.get(f"/referrals/{david.id}"))):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(" in page
    referrer_post(client, link, david, {"subject": evil, "body": f"Mine {evil}"})
    settled()
    for page in (text(client.get(link)), text(signed_in.get(f"/referrals/{david.id}"))):
        assert "<script>alert" not in page
    _, fields = decode(send_links(text(client.get(link)))[david.id])
    assert fields == {"subject": evil, "body": f"Mine {evil}"}


def test_default_subject_and_body_without_a_need_or_business(ctx):
    user = make_user(business_name="", value_proposition="")
    contact = make_contact(user, name="Ann Lee")
    referral = make_referral(contact, name="Zoë Martin", need="")
    assert default_subject(referral) == "Introducing Dana Reyes and Zoë"
    body = default_body(referral)
    assert "introduce you to Dana Reyes." in body
    assert "straight away when we last talked." in body
    assert body.endswith("Best wishes,\nAnn")
