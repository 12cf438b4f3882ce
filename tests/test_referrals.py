"""The pipeline pages: the list, a referral's page, status steps and what referrers hear."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from app.extensions import db
from app.models import (
    Contact,
    ContactKind,
    EventKind,
    IntroMethod,
    OutboundEmail,
    Referral,
    ReferralEvent,
    ReferralStatus,
    UpdatePreference,
    UpdateState,
    utcnow,
)
from tests.conftest import count_rows, csrf_from
from tests.factories import make_contact, make_referral, make_user

HTMX = {"HX-Request": "true"}
SECRET_NOTE = "Private: their budget is tight, keep this between us"


@pytest.fixture
def ann(user):
    """A referrer who wants to hear about every step."""
    return make_contact(
        user,
        name="Ann Referrer",
        email="ann@example.net",
        update_preference=UpdatePreference.EVERY_STEP,
    )


@pytest.fixture
def pat(ann):
    return make_referral(
        ann,
        name="Pat Prospect",
        need="Wants a second opinion on their tax planning.",
        how_known="We play tennis on Tuesdays.",
        intro_method=IntroMethod.MEET_TOGETHER,
        phone="+44 20 7946 0958",
    )


def token(client) -> str:
    return csrf_from(client.get("/referrals/"))


def post(client, url: str, data: dict, **kwargs):
    return client.post(url, data={"csrf_token": token(client), **data}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def events_of(referral: Referral) -> list[ReferralEvent]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.id)
    ).all()


def emails() -> list[OutboundEmail]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboundEmail).order_by(OutboundEmail.id)).all()


def textarea(html: str, name: str = "message") -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no {name} textarea"
    return match.group(1).strip()


def change_status(client, referral, status: str, **extra):
    headers = extra.pop("headers", None)
    return post(
        client,
        f"/referrals/{referral.id}/status",
        {"status": status, **extra},
        headers=headers or {},
    )


def status_event(referral) -> ReferralEvent:
    return [e for e in events_of(referral) if e.kind == EventKind.STATUS][-1]


def tell_url(referral, event) -> str:
    return f"/referrals/{referral.id}/events/{event.id}/tell"


def names_in(html: str) -> list[str]:
    """The people's names on a list page, in order."""
    return re.findall(r'<h2><a href="/referrals/\d+">([^<]+)</a></h2>', html)


# The list


def test_the_list_starts_empty_with_a_way_forward(signed_in):
    page = text(signed_in.get("/referrals/"))
    assert "No referrals yet" in page
    assert 'href="/touchpoints/"' in page


def test_each_row_shows_the_person_referrer_need_method_and_last_step(signed_in, ann, pat):
    with_long_need = make_referral(ann, name="Lou Long", need="x" * 300)
    page = text(signed_in.get("/referrals/"))
    assert f'href="/referrals/{pat.id}"' in page
    assert f'href="/contacts/{ann.id}"' in page and "Ann Referrer" in page
    assert "Wants a second opinion on their tax planning." in page
    assert IntroMethod.MEET_TOGETHER.label.replace("'", "&#39;") in page
    assert "Last step" in page and "today" in page
    assert "x" * 300 not in page and "x" * 130 in page  # the need is truncated
    assert f'id="referral-{with_long_need.id}"' in page


def test_filters_narrow_the_list(signed_in, user, ann):
    now = utcnow()
    vendor = make_contact(user, name="Vic Vendor", kind=ContactKind.VENDOR)
    fresh = make_referral(ann, name="Fresh One", created_at=now - timedelta(days=2))
    month = make_referral(
        ann, name="Month Old", created_at=now - timedelta(days=20), status=ReferralStatus.CONTACTED
    )
    quarter = make_referral(vendor, name="Quarter Old", created_at=now - timedelta(days=60))
    ancient = make_referral(
        vendor, name="Ancient One", created_at=now - timedelta(days=200), status=ReferralStatus.WON
    )

    def listed(query: str) -> set[str]:
        response = signed_in.get(f"/referrals/?{query}")
        assert response.status_code == 200
        return set(names_in(text(response)))

    everyone = {"Fresh One", "Month Old", "Quarter Old", "Ancient One"}
    assert listed("") == everyone
    assert listed("status=contacted") == {"Month Old"}
    assert listed("status=won") == {"Ancient One"}
    assert listed(f"referrer={vendor.id}") == {"Quarter Old", "Ancient One"}
    assert listed("kind=client") == {"Fresh One", "Month Old"}
    assert listed("kind=vendor") == {"Quarter Old", "Ancient One"}
    assert listed("age=7") == {"Fresh One"}
    assert listed("age=30") == {"Fresh One", "Month Old"}
    assert listed("age=90") == {"Fresh One", "Month Old", "Quarter Old"}
    assert listed("age=older") == {"Ancient One"}
    assert listed(f"referrer={ann.id}&status=contacted&age=30") == {"Month Old"}
    # Nonsense is ignored, never an error.
    for junk in (
        "status=bogus",
        "referrer=abc",
        "referrer=%C2%B2",
        "referrer=99999999999999999999999",
        "kind=alien",
        "age=-1",
        "sort=random",
        "view=everything",
        "page=abc",
        "page=-3",
    ):
        assert listed(junk) == everyone, junk
    assert {fresh.id, month.id, quarter.id, ancient.id}


def test_the_referrer_filter_offers_only_this_professionals_referrers(signed_in, user, ann, pat):
    make_contact(user, name="Never Referred")
    stranger = make_user(email="other@example.com")
    theirs = make_contact(stranger, name="Their Referrer")
    make_referral(theirs, name="Their Person")
    page = text(signed_in.get("/referrals/"))
    assert f'<option value="{ann.id}">Ann Referrer</option>' in page
    assert "Never Referred" not in page
    assert "Their Referrer" not in page and "Their Person" not in page
    # Another professional's contact as a filter is ignored: it shows everything of ours.
    assert names_in(text(signed_in.get(f"/referrals/?referrer={theirs.id}"))) == ["Pat Prospect"]


def test_sorting(signed_in, ann):
    now = utcnow()
    make_referral(
        ann,
        name="bea Middle",
        created_at=now - timedelta(days=5),
        last_step_at=now - timedelta(days=1),
    )
    make_referral(
        ann,
        name="Cy Oldest",
        created_at=now - timedelta(days=9),
        last_step_at=now - timedelta(days=2),
    )
    make_referral(
        ann,
        name="Al Newest",
        created_at=now - timedelta(days=1),
        last_step_at=now - timedelta(days=30),
    )

    def order(query: str) -> list[str]:
        return names_in(text(signed_in.get(f"/referrals/?{query}")))

    assert order("") == ["Al Newest", "bea Middle", "Cy Oldest"]
    assert order("sort=newest") == ["Al Newest", "bea Middle", "Cy Oldest"]
    assert order("sort=oldest") == ["Cy Oldest", "bea Middle", "Al Newest"]
    assert order("sort=quiet") == ["Al Newest", "Cy Oldest", "bea Middle"]
    assert order("sort=name") == ["Al Newest", "bea Middle", "Cy Oldest"]


def test_pages_keep_the_filters(app, signed_in, user, ann):
    app.config["PER_PAGE"] = 3
    other = make_contact(user, name="Other Referrer")
    now = utcnow()
    for n in range(5):
        make_referral(
            ann,
            name=f"Won {n}",
            status=ReferralStatus.WON,
            created_at=now - timedelta(hours=n),
        )
    make_referral(other, name="Won Elsewhere", status=ReferralStatus.WON)
    make_referral(ann, name="Still New")
    first = text(signed_in.get(f"/referrals/?status=won&referrer={ann.id}&sort=name"))
    assert names_in(first) == ["Won 0", "Won 1", "Won 2"]
    assert "Page 1 of 2" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "status=won" in next_link and f"referrer={ann.id}" in next_link
    assert "sort=name" in next_link and "page=2" in next_link
    second = text(signed_in.get(next_link))
    assert names_in(second) == ["Won 3", "Won 4"]
    assert signed_in.get("/referrals/?page=99").status_code == 200


@pytest.mark.parametrize("sort", ["newest", "oldest", "quiet", "name"])
@pytest.mark.parametrize(
    "filters", ["", "status=new", "kind=colleague", "age=30", "view=attention"]
)
def test_every_page_holds_its_slice_of_the_whole_list(app, signed_in, user, sort, filters):
    """Pages past the first find their rows' ids first, then load those rows: page
    after page, they hold exactly the whole list, in its order, ties included, and
    nothing of another professional's."""
    now = utcnow()
    someone_else = make_contact(make_user("other@example.com"), name="Not Theirs")
    for n in range(4):
        make_referral(someone_else, name=f"Theirs {n}", created_at=now)
    client = make_contact(user, name="Ann Client", kind=ContactKind.CLIENT)
    colleague = make_contact(user, name="Cole League", kind=ContactKind.COLLEAGUE)
    statuses = [ReferralStatus.NEW, ReferralStatus.CONTACTED, ReferralStatus.WON]
    for n in range(13):
        make_referral(
            client if n % 3 else colleague,
            name=f"{'ab'[n % 2]}{'Person' if n % 4 else 'person'} {n % 5}",
            status=statuses[n % 3],
            # Ties on every sort key, broken by id.
            created_at=now - timedelta(days=10 * (n % 6)),
            last_step_at=now - timedelta(days=n % 4),
            thanked_at=now if n % 2 else None,
        )
    base = f"/referrals/?sort={sort}&{filters}"
    app.config["PER_PAGE"] = 100
    whole = names_in(text(signed_in.get(base)))
    assert whole
    app.config["PER_PAGE"] = 3
    paged = []
    for page in range(1, 7):
        paged += names_in(text(signed_in.get(f"{base}&page={page}")))
    assert paged == whole
    assert not [name for name in whole if name.startswith("Theirs")]


def test_nothing_matching_says_so_and_offers_to_clear(signed_in, pat):
    page = text(signed_in.get("/referrals/?status=won"))
    assert "Nothing matches these filters" in page
    assert 'href="/referrals/">Clear the filters</a>' in page


def test_htmx_filtering_gets_just_the_results(signed_in, pat):
    response = signed_in.get("/referrals/?status=new", headers=HTMX)
    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html and '<form class="filters' not in html
    assert "Pat Prospect" in html
    assert "HX-Request" in response.headers["Vary"]
    page = text(signed_in.get("/referrals/?status=new"))
    assert "<html" in page
    assert 'hx-get="/referrals/"' in page and 'hx-target="#referral-results"' in page
    assert 'hx-push-url="true"' in page and 'hx-trigger="change, submit"' in page


def test_needs_attention_view_with_reasons(signed_in, user, ann):
    now = utcnow()
    new = make_referral(ann, name="Brand New", thanked_at=now)
    quiet = make_referral(
        ann,
        name="Gone Quiet",
        status=ReferralStatus.CONTACTED,
        last_step_at=now - timedelta(days=user.attention_days + 3),
        thanked_at=now,
    )
    unthanked = make_referral(ann, name="Not Thanked", status=ReferralStatus.MEETING_SET)
    make_referral(ann, name="All Good", status=ReferralStatus.MEETING_SET, thanked_at=now)
    page = text(signed_in.get("/referrals/?view=attention"))
    assert set(names_in(page)) == {"Brand New", "Gone Quiet", "Not Thanked"}
    assert "Not contacted yet" in page
    assert f"No step for {user.attention_days + 3} days" in page
    assert "Referrer not thanked" in page
    assert "3 referrals need your attention." in page
    assert {new.id, quiet.id, unthanked.id}


def test_the_list_costs_the_same_queries_for_many_referrals(signed_in, user):
    def queries_for(url: str) -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa_event.listen(db.engine, "before_cursor_execute", listener)
        try:
            response = signed_in.get(url)
            assert response.status_code == 200
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    def add(n: int) -> None:
        for _ in range(n):
            make_referral(make_contact(user))

    urls = (
        "/referrals/",
        "/referrals/?view=attention",
        "/referrals/?status=new&sort=name",
        "/referrals/?sort=quiet&page=2",
    )
    add(5)
    few = {url: queries_for(url) for url in urls}
    add(35)
    for url, count in few.items():
        assert queries_for(url) == count, url
        assert count <= 10, url
    assert len(names_in(text(signed_in.get("/referrals/")))) == 25


def test_the_list_costs_the_same_queries_with_hundreds_of_referrals(app, signed_in, user):
    """Hundreds of rows, bulk inserted: more referrers than the filter lists, and a
    count that stops at its cap; still the same few queries as with a handful."""
    import app.referrals.routes as referrals_routes

    def queries_for(url: str) -> int:
        statements = []

        def listener(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith("BEGIN"):  # transactions, not queries
                statements.append(statement)

        sa_event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert signed_in.get(url).status_code == 200
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    def add(n: int) -> None:
        now = utcnow()
        contacts = db.session.scalars(
            sa.insert(Contact).returning(Contact.id),
            [{"user_id": user.id, "name": f"Referrer {i:04}"} for i in range(n)],
        ).all()
        db.session.execute(
            sa.insert(Referral),
            [
                {"user_id": user.id, "contact_id": contact_id, "name": f"Person {i}",
                 "created_at": now - timedelta(hours=i), "last_step_at": now}
                for i, contact_id in enumerate(contacts * 3)
            ],
        )  # fmt: skip
        db.session.commit()

    few_referrer = make_referral(make_contact(user, name="Early Referrer"))
    urls = (
        "/referrals/",
        "/referrals/?view=attention",
        "/referrals/?status=new&sort=name",
        "/referrals/?page=3",
        f"/referrals/?referrer={few_referrer.contact_id}",
    )
    few = {url: queries_for(url) for url in urls}
    add(referrals_routes.REFERRER_CHOICES + 50)  # 450 referrals from 150 referrers
    for url, count in few.items():
        assert queries_for(url) == count, url
        assert count <= 10, url
    page = text(signed_in.get(f"/referrals/?referrer={few_referrer.contact_id}"))
    assert names_in(page) == [few_referrer.name]
    assert f'<option value="{few_referrer.contact_id}" selected>Early Referrer</option>' in page


def test_a_long_list_says_more_than_and_still_pages(app, signed_in, ann, monkeypatch):
    monkeypatch.setattr("app.helpers.COUNT_CAP", 3)
    app.config["PER_PAGE"] = 2
    for n in range(6):
        make_referral(ann, name=f"Person {n}")
    first = text(signed_in.get("/referrals/"))
    assert "More than 3 referrals." in first
    assert "<span>Page 1</span>" in first
    assert 'rel="prev"' not in first
    assert 'href="/referrals/?page=2"' in first
    last = text(signed_in.get("/referrals/?page=3"))
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert len(names_in(last)) == 2
    few = text(signed_in.get("/referrals/?status=won"))
    assert "Nothing matches these filters" in few


def test_too_many_referrers_to_list_points_to_the_contact(app, signed_in, user, monkeypatch):
    monkeypatch.setattr("app.referrals.routes.REFERRER_CHOICES", 2)
    contacts = [make_contact(user, name=f"Ref {n}") for n in range(3)]
    for contact in contacts:
        make_referral(contact, name=f"From {contact.name}")
    page = text(signed_in.get("/referrals/"))
    assert "To see one referrer’s introductions, open them in" in page
    assert "Ref 0</option>" not in page
    chosen = text(signed_in.get(f"/referrals/?referrer={contacts[2].id}"))
    assert names_in(chosen) == ["From Ref 2"]
    assert f'<option value="{contacts[2].id}" selected>Ref 2</option>' in chosen
    detail = text(signed_in.get(f"/contacts/{contacts[2].id}"))
    assert f'href="/referrals/?referrer={contacts[2].id}"' in detail


def test_an_in_place_status_change_costs_a_few_queries(signed_in, user, pat):
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    csrf = csrf_from(signed_in.get("/referrals/"))
    for where in ("list", "detail"):
        statements.clear()
        sa_event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = signed_in.post(
                f"/referrals/{pat.id}/status",
                data={"status": "contacted" if where == "list" else "meeting_set", "where": where},
                headers={**HTMX, "X-CSRFToken": csrf},
            )
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", record)
        assert response.status_code == 200, where
        assert len(statements) <= 10, (where, statements)


# Ownership


def test_another_professionals_referral_is_not_found_anywhere(signed_in, user, pat):
    stranger = make_user(email="other@example.com")
    theirs = make_referral(make_contact(stranger), name="Not Yours")
    their_event = ReferralEvent(
        referral_id=theirs.id,
        user_id=stranger.id,
        kind=EventKind.STATUS,
        from_status=ReferralStatus.NEW,
        to_status=ReferralStatus.CONTACTED,
        author="Someone",
        update_state=UpdateState.PENDING,
    )
    db.session.add(their_event)
    db.session.commit()
    # Our own step, to try with their referral's id and the other way round.
    change_status(signed_in, pat, "contacted")
    ours = status_event(pat)

    csrf = token(signed_in)
    gets = [
        f"/referrals/{theirs.id}",
        tell_url(theirs, their_event),
        f"/referrals/{pat.id}/events/{their_event.id}/tell",
        f"/referrals/{theirs.id}/events/{ours.id}/tell",
        f"/referrals/{theirs.id}/thank",
        f"/referrals/{theirs.id}/heads-up",
        "/referrals/99999999999999999999999",
    ]
    for url in gets:
        assert signed_in.get(url).status_code == 404, url
    posts = [
        (f"/referrals/{theirs.id}/status", {"status": "won"}),
        (tell_url(theirs, their_event), {"action": "send", "message": "Hi"}),
        (f"/referrals/{pat.id}/events/{their_event.id}/tell", {"action": "skip"}),
        (f"/referrals/{theirs.id}/note", {"note": "Mine now"}),
        (f"/referrals/{theirs.id}/thank", {"message": "Thanks"}),
        (f"/referrals/{theirs.id}/heads-up", {"message": "Oops"}),
    ]
    for url, data in posts:
        assert signed_in.post(url, data={"csrf_token": csrf, **data}).status_code == 404, url
        assert signed_in.post(url, data={"csrf_token": csrf, **data}, headers=HTMX).status_code == (
            404
        )
    db.session.expire_all()
    assert db.session.get(Referral, theirs.id).status == ReferralStatus.NEW
    assert db.session.get(ReferralEvent, their_event.id).update_state == UpdateState.PENDING
    assert count_rows(ReferralEvent, ReferralEvent.referral_id == theirs.id) == 1
    assert count_rows(OutboundEmail) == 0


def test_notes_and_created_events_have_no_composer(signed_in, pat):
    post(signed_in, f"/referrals/{pat.id}/note", {"note": "Called, no answer"})
    note = [e for e in events_of(pat) if e.kind == EventKind.NOTE][0]
    assert signed_in.get(tell_url(pat, note)).status_code == 404


# Status changes


def test_a_status_change_records_who_what_and_the_private_note(signed_in, user, pat):
    response = change_status(signed_in, pat, "contacted", note=SECRET_NOTE)
    assert response.status_code == 303
    [step] = [e for e in events_of(pat) if e.kind == EventKind.STATUS]
    assert (step.from_status, step.to_status) == (ReferralStatus.NEW, ReferralStatus.CONTACTED)
    assert step.author == user.name
    assert step.note == SECRET_NOTE
    assert step.user_id == user.id
    referral = db.session.get(Referral, pat.id)
    assert referral.status == ReferralStatus.CONTACTED
    assert referral.last_step_at >= step.created_at - timedelta(seconds=1)


def test_every_step_referrer_gets_a_composer_with_the_draft_and_never_the_note(signed_in, pat):
    response = change_status(signed_in, pat, "meeting_set", note=SECRET_NOTE)
    step = status_event(pat)
    assert step.update_state == UpdateState.PENDING
    assert response.headers["Location"] == tell_url(pat, step)
    page = text(signed_in.get(response.headers["Location"]))
    message = textarea(page)
    assert message == "Pat and I have a meeting arranged. I&#39;ll let you know how it goes."
    assert SECRET_NOTE not in page
    assert "Send update to Ann" in page and "Don't tell them this time" in page
    assert "ann@example.net" in page
    assert "private note is never sent" in page


def test_sending_queues_one_update_email_without_the_note(signed_in, pat):
    change_status(signed_in, pat, "contacted", note=SECRET_NOTE)
    step = status_event(pat)
    response = post(
        signed_in, tell_url(pat, step), {"action": "send", "message": "Pat and I spoke today."}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{pat.id}"
    [email] = emails()
    assert email.template == "referrer_update"
    assert email.to_email == "ann@example.net"
    assert "Pat and I spoke today." in email.body_text
    assert "Pat and I spoke today." in email.body_html
    assert SECRET_NOTE not in email.body_text + email.body_html + email.subject
    assert email.unsubscribe_url
    step = status_event(pat)
    assert step.update_state == UpdateState.QUEUED and step.email_id == email.id
    assert step.referrer_message == "Pat and I spoke today."
    page = text(signed_in.get(response.headers["Location"]))
    assert "within about 15 minutes" in page
    assert f'href="/outbox/{email.id}"' in page
    # A second send of the same step does not add it again.
    again = post(signed_in, tell_url(pat, step), {"action": "send", "message": "Again"})
    assert again.status_code == 303
    assert len(emails()) == 1 and "Again" not in emails()[0].body_text


def test_two_updates_in_the_window_go_as_one_email(signed_in, ann, pat):
    other = make_referral(ann, name="Quinn Second")
    change_status(signed_in, pat, "contacted")
    post(signed_in, tell_url(pat, status_event(pat)), {"message": "First news about Pat."})
    change_status(signed_in, other, "meeting_set")
    post(signed_in, tell_url(other, status_event(other)), {"message": "Second news, Quinn."})
    [email] = emails()
    assert "First news about Pat." in email.body_text
    assert "Second news, Quinn." in email.body_text
    assert "2 people" in email.subject


def test_the_window_comes_from_the_settings(app, signed_in, pat):
    app.config["REFERRER_UPDATE_WINDOW_SECONDS"] = 5 * 60
    change_status(signed_in, pat, "contacted")
    response = post(signed_in, tell_url(pat, status_event(pat)), {"message": "News"})
    assert "within about 5 minutes" in text(signed_in.get(response.headers["Location"]))


def test_milestones_only_means_no_email_for_contacted(signed_in, user, pat, ann):
    ann.update_preference = UpdatePreference.MILESTONES
    db.session.commit()
    response = change_status(signed_in, pat, "contacted", headers=HTMX)
    html = text(response)
    assert response.status_code == 200
    step = status_event(pat)
    assert step.update_state == UpdateState.SKIPPED
    assert count_rows(OutboundEmail) == 0
    assert "Status changed to Contacted. Ann asked for milestones only, so no update is sent." in (
        html
    )
    assert 'role="status"' in html
    assert "Write one anyway" in html and tell_url(pat, step) in html
    # Without JavaScript: back to the referral's page, where the same is said.
    other = make_referral(ann, name="Other Person")
    plain = change_status(signed_in, other, "contacted")
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/referrals/{other.id}"
    assert "Ann asked for milestones only" in text(signed_in.get(plain.headers["Location"]))
    # A milestone is still offered.
    change_status(signed_in, pat, "meeting_set")
    assert status_event(pat).update_state == UpdateState.PENDING


def test_write_one_anyway_opens_the_composer_in_place(signed_in, pat, ann):
    ann.update_preference = UpdatePreference.MILESTONES
    db.session.commit()
    change_status(signed_in, pat, "contacted", headers=HTMX, where="list")
    step = status_event(pat)
    response = signed_in.get(f"{tell_url(pat, step)}?where=list", headers=HTMX)
    html = text(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<li id="referral-{pat.id}"')
    assert "Send update to Ann" in html and " autofocus" in html
    panel = text(signed_in.get(f"{tell_url(pat, step)}?where=detail", headers=HTMX))
    assert panel.lstrip().startswith('<section id="status-panel"')


def test_a_skipped_step_can_still_be_told(signed_in, pat, ann):
    ann.update_preference = UpdatePreference.NONE
    db.session.commit()
    change_status(signed_in, pat, "contacted")
    step = status_event(pat)
    assert step.update_state == UpdateState.SKIPPED
    page = text(signed_in.get(tell_url(pat, step)))
    assert textarea(page).startswith("I&#39;ve been in touch with Pat.")
    post(signed_in, tell_url(pat, step), {"action": "send", "message": "Told you anyway."})
    [email] = emails()
    assert "Told you anyway." in email.body_text
    assert status_event(pat).update_state == UpdateState.QUEUED


def test_an_unsubscribed_referrer_gets_nothing_and_the_reason_is_shown(signed_in, pat, ann):
    ann.unsubscribed_at = utcnow()
    db.session.commit()
    html = text(change_status(signed_in, pat, "contacted", headers=HTMX))
    assert status_event(pat).update_state == UpdateState.SKIPPED
    assert count_rows(OutboundEmail) == 0
    assert "Ann Referrer unsubscribed from Referloop emails on" in html
    assert "Write one anyway" not in html
    detail = text(signed_in.get(f"/referrals/{pat.id}"))
    assert "Unsubscribed" in detail and "unsubscribed from Referloop emails" in detail
    assert "Write one anyway" not in detail
    composer = text(signed_in.get(tell_url(pat, status_event(pat))))
    assert "Send update to" not in composer
    refused = post(signed_in, tell_url(pat, status_event(pat)), {"message": "Hello?"})
    assert refused.status_code == 422
    assert "unsubscribed from Referloop emails" in text(refused)
    assert count_rows(OutboundEmail) == 0


def test_cannot_tell_is_shown_and_nothing_is_half_written(signed_in, pat, ann):
    change_status(signed_in, pat, "contacted")
    step = status_event(pat)
    ann.email = ""  # the address was removed while the composer was open
    db.session.commit()
    response = post(signed_in, tell_url(pat, step), {"message": "Hello"}, headers=HTMX)
    assert response.status_code == 422
    assert "There is no email address for Ann Referrer." in text(response)
    assert count_rows(OutboundEmail) == 0
    step = status_event(pat)
    assert step.update_state == UpdateState.PENDING and step.referrer_message == ""


def test_htmx_gets_fragments_and_plain_forms_get_redirects(signed_in, pat):
    response = change_status(signed_in, pat, "contacted", headers=HTMX, where="list")
    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<li id="referral-{pat.id}"')
    step = status_event(pat)
    assert f'hx-post="{tell_url(pat, step)}"' in html
    assert textarea(html).startswith("I&#39;ve been in touch with Pat.")

    sent = post(
        signed_in,
        tell_url(pat, step),
        {"action": "send", "message": "We spoke.", "where": "list"},
        headers=HTMX,
    )
    html = text(sent)
    assert sent.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<li id="referral-{pat.id}"')
    assert 'role="status"' in html and "within about 15 minutes" in html
    assert 'name="status"' in html  # the row's status form is back
    assert len(emails()) == 1

    # The referral page's panel, with the history refreshed out of band.
    panel = text(change_status(signed_in, pat, "meeting_set", headers=HTMX, where="detail"))
    assert panel.lstrip().startswith('<section id="status-panel"')
    assert '<ol id="history-events" class="history" hx-swap-oob="true">' in panel
    assert "Contacted → Meeting set" in panel
    assert 'id="history"' not in panel  # the note form, and what is typed there, stays
    assert "<html" not in panel

    plain = change_status(signed_in, pat, "won")
    assert plain.status_code == 303


def test_skipping_tells_nobody(signed_in, pat):
    change_status(signed_in, pat, "contacted")
    step = status_event(pat)
    skip = {"action": "skip", "where": "list"}
    response = post(signed_in, tell_url(pat, step), skip, headers=HTMX)
    assert response.status_code == 200
    assert "isn&#39;t told about this step" in text(response)
    assert status_event(pat).update_state == UpdateState.SKIPPED
    assert count_rows(OutboundEmail) == 0


def test_an_empty_update_is_refused_with_what_to_do(signed_in, pat):
    change_status(signed_in, pat, "contacted")
    step = status_event(pat)
    response = post(signed_in, tell_url(pat, step), {"action": "send", "message": "   "})
    assert response.status_code == 422
    assert "Write the update first" in text(response)
    assert count_rows(OutboundEmail) == 0
    assert status_event(pat).update_state == UpdateState.PENDING


def test_the_same_status_again_is_a_friendly_422(signed_in, pat):
    for headers in ({}, HTMX):
        response = change_status(signed_in, pat, "new", headers=headers)
        assert response.status_code == 422
        assert "Pat Prospect is already at “New”" in text(response)
    assert [e.kind for e in events_of(pat)] == []


def test_bad_status_input_is_refused_and_kept(signed_in, pat):
    response = change_status(signed_in, pat, "promoted")
    assert response.status_code == 422
    assert "Choose one of the statuses in the list." in text(response)
    response = change_status(signed_in, pat, "won", value_won="-5", note="Keep this")
    assert response.status_code == 422
    html = text(response)
    assert "Enter an amount of 0 or more" in html
    assert 'value="-5"' in html and ">Keep this</textarea>" in html
    assert events_of(pat) == []


def test_became_a_client_records_the_value(signed_in, pat):
    change_status(signed_in, pat, "won", value_won="£12,500.50")
    referral = db.session.get(Referral, pat.id)
    assert referral.status == ReferralStatus.WON
    assert referral.value_won == Decimal("12500.50")
    assert "12,500.50" in text(signed_in.get(f"/referrals/{pat.id}"))
    # A value typed for another status is not recorded.
    other = make_referral(pat.contact, name="Other")
    change_status(signed_in, other, "contacted", value_won="99")
    assert db.session.get(Referral, other.id).value_won is None


def test_the_value_of_a_won_referral_can_be_corrected_without_a_new_step(signed_in, pat):
    change_status(signed_in, pat, "won", value_won="12500")
    emails_before = len(emails())
    response = change_status(signed_in, pat, "won", value_won="14000")
    assert response.status_code == 303
    referral = db.session.get(Referral, pat.id)
    assert referral.value_won == Decimal("14000")
    kinds = [event.kind for event in events_of(referral)]
    assert kinds.count(EventKind.STATUS) == 1  # no second "became a client"
    assert "changed from 12,500.00 to 14,000.00" in events_of(referral)[-1].note
    assert len(emails()) == emails_before  # a correction tells nobody
    # The same status with no new value is still refused.
    assert change_status(signed_in, pat, "won").status_code == 422


# The referral's page


def test_the_page_shows_what_the_referrer_wrote_and_the_history(signed_in, user, pat):
    change_status(signed_in, pat, "contacted", note=SECRET_NOTE)
    step = status_event(pat)
    post(signed_in, tell_url(pat, step), {"message": "Pat and I spoke."})
    change_status(signed_in, pat, "meeting_set")
    post(signed_in, f"/referrals/{pat.id}/note", {"note": "Bring the audit notes"})
    page = text(signed_in.get(f"/referrals/{pat.id}"))
    for expected in (
        "<h1>Pat Prospect</h1>",
        pat.email,
        "+44 20 7946 0958",
        "We play tennis on Tuesdays.",
        "Wants a second opinion on their tax planning.",
        "Let&#39;s meet together (coffee or lunch)",
        "Ann confirmed it on",
        f'href="/contacts/{ann_id(pat)}"',
        "Every step",
        SECRET_NOTE,
        "never sent",
        "Pat and I spoke.",
        f'href="/outbox/{step.email_id}"',
        "waiting to send",
        "Bring the audit notes",
        "Finish this update",
        "New → Contacted",
        user.name,
    ):
        assert expected in page, expected
    # Newest first.
    assert page.index("Bring the audit notes") < page.index("Contacted → Meeting set")
    assert page.index("Contacted → Meeting set") < page.index("New → Contacted")


def ann_id(referral) -> int:
    return referral.contact_id


def test_a_note_is_added_in_place_or_with_a_redirect(signed_in, pat):
    response = post(signed_in, f"/referrals/{pat.id}/note", {"note": "Left a voicemail"})
    assert response.status_code == 303
    html = text(post(signed_in, f"/referrals/{pat.id}/note", {"note": "Second try"}, headers=HTMX))
    assert html.lstrip().startswith('<section id="history"')
    assert "Second try" in html and "Left a voicemail" in html and 'role="status"' in html
    notes = [e for e in events_of(pat) if e.kind == EventKind.NOTE]
    assert [n.note for n in notes] == ["Left a voicemail", "Second try"]
    empty = post(signed_in, f"/referrals/{pat.id}/note", {"note": "  "})
    assert empty.status_code == 422 and "Write the note first." in text(empty)


def test_pending_updates_link_to_the_composer(signed_in, pat):
    change_status(signed_in, pat, "contacted")
    step = status_event(pat)
    page = text(signed_in.get(f"/referrals/{pat.id}"))
    assert f'href="{tell_url(pat, step)}">Finish this update</a>' in page


# Thanks and heads-ups


def test_a_thank_you_is_sent_and_clears_the_attention_reason(signed_in, pat):
    assert "Pat Prospect" in text(signed_in.get("/referrals/?view=attention"))
    page = text(signed_in.get(f"/referrals/{pat.id}/thank"))
    assert textarea(page).startswith("Thank you for introducing me to Pat.")
    response = post(
        signed_in, f"/referrals/{pat.id}/thank", {"message": "Thank you so much for Pat!"}
    )
    assert response.status_code == 303
    referral = db.session.get(Referral, pat.id)
    assert referral.thanked_at is not None
    [email] = emails()
    assert "Thank you so much for Pat!" in email.body_text
    assert email.template == "referrer_update"
    # Still new, so it needs attention, but no longer for the thanks.
    detail = text(signed_in.get(f"/referrals/{pat.id}"))
    assert "Referrer not thanked" not in detail and "Not contacted yet" in detail
    change_status(signed_in, pat, "contacted")
    assert "Pat Prospect" not in text(signed_in.get("/referrals/?view=attention"))
    contact_page = text(signed_in.get(f"/contacts/{pat.contact_id}"))
    assert "Thanks you've sent" in contact_page
    assert "Thank you so much for Pat!" in contact_page


def test_an_empty_thank_you_is_refused(signed_in, pat):
    response = post(signed_in, f"/referrals/{pat.id}/thank", {"message": ""})
    assert response.status_code == 422
    assert "Write a few words of thanks first." in text(response)
    assert db.session.get(Referral, pat.id).thanked_at is None


def test_a_heads_up_reaches_the_referrer_first(signed_in, pat, ann):
    page = text(signed_in.get(f"/referrals/{pat.id}/heads-up"))
    assert "Something went wrong with Pat Prospect?" in page
    assert "hear it from you first" in page
    assert "[what happened]" in textarea(page)
    placeholder = post(signed_in, f"/referrals/{pat.id}/heads-up", {"message": textarea(page)})
    assert placeholder.status_code == 422 and "[brackets]" in text(placeholder)
    response = post(
        signed_in,
        f"/referrals/{pat.id}/heads-up",
        {
            "message": "I cancelled our meeting at short notice; I apologised and rebooked.",
            "note": SECRET_NOTE,
        },
    )
    assert response.status_code == 303
    [email] = emails()
    assert "please read this first" in email.subject
    assert "rebooked" in email.body_text and SECRET_NOTE not in email.body_text + email.body_html
    [heads_up] = [e for e in events_of(pat) if e.kind == EventKind.HEADS_UP]
    assert heads_up.note == SECRET_NOTE and heads_up.update_state == UpdateState.QUEUED


def test_no_updates_wanted_is_said_but_the_professional_decides(signed_in, pat, ann):
    ann.update_preference = UpdatePreference.NONE
    db.session.commit()
    page = text(signed_in.get(f"/referrals/{pat.id}/heads-up"))
    assert "Ann asked not to get updates" in page
    assert "Send the heads-up to Ann" in page
    page = text(signed_in.get(f"/referrals/{pat.id}/thank"))
    assert "Ann asked not to get updates" in page
    assert "Send the thank-you to Ann" in page


def test_thanks_and_heads_up_need_an_address(signed_in, pat, ann):
    ann.unsubscribed_at = utcnow()
    db.session.commit()
    for path in ("thank", "heads-up"):
        page = text(signed_in.get(f"/referrals/{pat.id}/{path}"))
        assert "unsubscribed from Referloop emails" in page
        assert '<button type="submit">Send' not in page
        refused = post(signed_in, f"/referrals/{pat.id}/{path}", {"message": "Hello there"})
        assert refused.status_code == 422
    assert count_rows(OutboundEmail) == 0


# What people typed stays text


def test_typed_markup_is_escaped_everywhere(signed_in, user):
    evil = "<script>alert(1)</script>"
    contact = make_contact(user, name=f"Eve {evil}")
    referral = make_referral(contact, name=f"Mal {evil}", need=evil, how_known=evil)
    for url in ("/referrals/", f"/referrals/{referral.id}", f"/contacts/{contact.id}"):
        page = text(signed_in.get(url))
        assert "<script>alert(1)" not in page, url
        assert "&lt;script&gt;" in page, url
    change_status(signed_in, referral, "contacted")
    step = status_event(referral)
    post(signed_in, tell_url(referral, step), {"message": f"Update {evil}"})
    post(signed_in, f"/referrals/{referral.id}/note", {"note": evil})
    [email] = emails()
    assert "<script>" not in email.body_html and "&lt;script&gt;" in email.body_html
    for url in (f"/referrals/{referral.id}", f"/referrals/{referral.id}/thank"):
        assert "<script>alert(1)" not in text(signed_in.get(url)), url


# The contact's page


def test_the_contact_page_links_people_and_shows_preferences(signed_in, user, ann, pat):
    ann.unsubscribed_at = utcnow()
    ann.update_preference = UpdatePreference.MILESTONES
    ann.rhythm_days = 0
    db.session.commit()
    page = text(signed_in.get(f"/contacts/{ann.id}"))
    assert f'<a href="/referrals/{pat.id}">Pat Prospect</a>' in page
    assert "Milestones only" in page
    assert "Unsubscribed on" in page
    assert "No regular touchpoints" in page
    assert "Thanks you've sent" in page


def test_the_contact_page_describes_each_rhythm(signed_in, user):
    cases = [
        (None, 91, "Every 91 days (your default)"),
        (30, 91, "Every 30 days"),
        (0, 91, "No regular touchpoints"),
        (None, None, "No regular touchpoints (your default)"),
    ]
    for contact_days, user_days, expected in cases:
        user.rhythm_days = user_days
        contact = make_contact(user, rhythm_days=contact_days)
        page = text(signed_in.get(f"/contacts/{contact.id}"))
        assert expected in page, (contact_days, user_days)
    # A contact with its own rhythm never claims to use the default.
    assert "Every 30 days (your default)" not in page


def test_the_contact_page_lists_thanks_in_one_query_newest_first(signed_in, user, ann):
    people = [make_referral(ann, name=f"Person {n}") for n in range(3)]
    for n, referral in enumerate(people):
        post(signed_in, f"/referrals/{referral.id}/thank", {"message": f"Thanks number {n}"})
    page = text(signed_in.get(f"/contacts/{ann.id}"))
    assert page.index("Thanks number 2") < page.index("Thanks number 1")
    assert page.index("Thanks number 1") < page.index("Thanks number 0")
    other = make_contact(user, name="Other Person")
    assert "Thanks number" not in text(signed_in.get(f"/contacts/{other.id}"))
