"""The signed-in pages at scale: latency at 1,000 and at 100,000 referrals, and queries.

Two databases, each built by the migrations and filled with bulk inserts:

- small: one professional with 1,000 referrals and 200 contacts;
- big: ten professionals, each with 100,000 referrals and 20,000 contacts (in
  quick mode 10,000 and 2,000), so about a million referrals in all.

Rows of the ten professionals are interleaved in time, as they would be in a
shared production database, so one professional's rows are not neighbours on
disk. The first professional of each database is the one measured.

Latency is measured over real HTTP: one gunicorn worker per database, signed
in through the sign-in form, the same pages requested in the same order. The
figure is the p50 of each page, big divided by small.

Queries are counted in process (the Flask test client and a
``before_cursor_execute`` listener) for every signed-in GET page and fragment
that ``app.url_map`` has, with the ids of real rows, with and without
``HX-Request``, then for the main htmx POSTs (last, as they change data).
BEGIN and the like are transaction control, not queries, and are not counted.

``python -m bench.admin_scale --kind sqlite [--quick]`` prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import sqlalchemy as sa

from bench.common import (
    Loader,
    database_url,
    flask_env,
    make_app,
    p50,
    say,
    stopwatch,
)
from bench.servers import gunicorn

PASSWORD = "benchmark password 1"  # noqa: S105 (the benchmark's own throwaway accounts)


@dataclass(frozen=True)
class Size:
    professionals: int
    referrals: int  # per professional
    contacts: int  # per professional


SMALL = Size(professionals=1, referrals=1_000, contacts=200)
BIG = Size(professionals=10, referrals=100_000, contacts=20_000)
BIG_QUICK = Size(professionals=10, referrals=10_000, contacts=2_000)

# The pages whose p50 is compared: (path, as htmx, in which databases). The deep
# page is the small list's last full page, so both serve a full page at the same
# offset; the deeper ones exist only in the big database, and are reported alone.
BOTH = ("small", "big")
TIMED = {
    "referrals": ("/referrals/", False, BOTH),
    "referrals filtered": ("/referrals/?status=contacted&sort=name", False, BOTH),
    "referrals attention": ("/referrals/?view=attention", False, BOTH),
    "referrals page 40": ("/referrals/?page=40", False, BOTH),
    "contacts": ("/contacts/", False, BOTH),
    "contacts search": ("/contacts/?q=ann", True, BOTH),
    "home": ("/", False, BOTH),
    "referrals page 2000": ("/referrals/?page=2000", False, ("big",)),
    "contacts page 400": ("/contacts/?page=400", False, ("big",)),
}
# The pages of the target (the rest are reported).
IN_RATIO = ("referrals", "referrals filtered", "referrals attention", "referrals page 40",
            "contacts", "contacts search")  # fmt: skip


# The data


FIRST = [
    "Ann", "Anna", "Bea", "Ben", "Carla", "Cy", "Dana", "Dev", "Elif", "Élodie", "Emma", "Femi",
    "Gus", "Hana", "Ian", "Ines", "Jo", "Jonas", "Kai", "Kemal", "Lea", "Leo", "Maya", "Mo",
    "Nia", "Noor", "Olu", "Omar", "Pia", "Priya", "Quinn", "Raj", "Rosa", "Sam", "Sanne", "Tom",
    "Uma", "Vera", "Wes", "Xia", "Yara", "Yusuf", "Zoe", "Zeynep", "Ana", "Anders", "Annika",
    "Björn", "Chloé", "Diego",
]  # fmt: skip
LAST = [
    "Abbott", "Achebe", "Baker", "Bianchi", "Chen", "Costa", "Dubois", "Dunn", "Eriksen", "Evans",
    "Fischer", "Flores", "Garcia", "Gray", "Hansen", "Haddad", "Ito", "Ivanova", "Jansen", "Jones",
    "Kaya", "Khan", "Larsen", "Lopez", "Müller", "Murphy", "Nakamura", "Novak", "Okafor", "Olsen",
    "Patel", "Perez", "Quinn", "Rossi", "Santos", "Schmidt", "Tanaka", "Taylor", "Ueda", "Varga",
    "Vogel", "Wang", "Weber", "Xu", "Yilmaz", "Young", "Zhang", "Zimmer", "Öztürk", "Ødegaard",
]  # fmt: skip
# Occupations as people type them (case varies); some contacts have none.
CATEGORIES = [
    "Attorney", "Accountant", "CPA", "Banker", "Insurance broker", "Real estate agent",
    "Financial planner", "Architect", "Dentist", "Mortgage broker", "Web designer", "Recruiter",
    "attorney", "Coach", "", "", "",
]  # fmt: skip
KINDS = ["client"] * 5 + ["vendor", "supplier", "colleague", "friend_family", "networking", "other"]
PREFERENCES = ["every_step"] * 3 + ["milestones"] * 2 + ["none"]
INTRO_METHODS = ["referrer_introduces", "mention_referrer", "draft_for_referrer", "meet_together"]
# Old referrals have mostly settled; recent ones are still moving.
SETTLED = ["won"] * 30 + ["not_a_fit"] * 25 + ["no_response"] * 30 + ["on_hold"] * 5
SETTLED += ["contacted"] * 5 + ["meeting_set"] * 5
RECENT = ["new"] * 25 + ["contacted"] * 30 + ["meeting_set"] * 20 + ["won"] * 10
RECENT += ["not_a_fit", "no_response", "on_hold"] * 5
NEEDS = (
    "Wants a second opinion on their tax planning before the year ends.",
    "Opening a second practice and needs the books set up properly.",
    "Was let down by their last adviser; wants someone who answers the phone.",
    "Selling the business in two years and wants to prepare.",
)
HISTORY_YEARS = 6


USER = "id email password_hash display_name business_name value_proposition blurb ask_count "
USER += "first_touchpoint_days rhythm_days attention_days failed_logins created_at"
CATEGORY = "user_id name position created_at"
CONTACT = "id user_id name email phone kind category engagement_start delivered_on "
CONTACT += "terms_what_counts terms_how_many terms_in_return update_preference "
CONTACT += "unsubscribed_at rhythm_days notes created_at updated_at search_text"
TOUCHPOINT = "id user_id contact_id due_on value_offered message ask_count state "
TOUCHPOINT += "from_delivery auto_send ask_for_vendors link_version link_active sent_at "
TOUCHPOINT += "first_opened_at answered_at created_at"
CONNECTION = "id user_id contact_id name organisation how_known status created_at"
MOMENT = "user_id contact_id moment happened_on note created_at"
REFERRAL = "id user_id contact_id touchpoint_id position name email phone how_known need "
REFERRAL += "intro_method consent_at consent_notice_version status value_won last_step_at "
REFERRAL += "is_vendor intro_draft_subject intro_draft intro_draft_by_referrer thanked_at "
REFERRAL += "created_at"
EVENT = "referral_id user_id kind from_status to_status note referrer_message update_state "
EVENT += "referrer_told_at author created_at"
EMAIL = "id user_id contact_id template to_name to_email reply_to subject body_text "
EMAIL += "body_html message_id unsubscribe_url state attempts next_attempt_at last_error "
EMAIL += "sent_at created_at"


def generate(app, size: Size, seed: int = 5) -> dict:
    """Fill the app's (empty, migrated) database; returns what was made."""
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import searchable_text

    rng = random.Random(seed)
    choice, chance, randint = rng.choice, rng.random, rng.randint
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=365 * HISTORY_YEARS)
    span = (now - start).total_seconds()
    pros = size.professionals
    n_contacts = size.contacts * pros
    n_referrals = size.referrals * pros
    password_hash = generate_password_hash(PASSWORD, method=app.config["PASSWORD_HASH_METHOD"])
    counts = {}

    def at(i: int, n: int) -> datetime:
        # Row i of n, in time order across every professional.
        return start + timedelta(seconds=span * (i + chance()) / n)

    def person() -> str:
        return f"{choice(FIRST)} {choice(LAST)}"

    # SQLite: the app's engine, so the database's lower() is the app's (see database.py).
    with app.app_context(), db.engine.begin() as connection, stopwatch() as elapsed:
        load = Loader(connection)
        T, D = load.time, load.day
        yes, no = (1, 0) if load.sqlite else (True, False)
        counts["user"] = load.load("user", USER, (
            (p + 1, f"pro{p + 1}@bench.example", password_hash, f"Professional {p + 1}",
             f"Practice {p + 1}", "helps dental practices cut their tax bill", "", 2, 90, 91,
             14, 0, T(start))
            for p in range(pros)
        ))  # fmt: skip
        counts["wanted_category"] = load.load("wanted_category", CATEGORY, (
            (p + 1, name, position, T(start))
            for p in range(pros)
            for position, name in enumerate(CATEGORIES[:6], 1)
        ))  # fmt: skip

        # Contacts, and for each an answered touchpoint and a planned one; contact
        # c belongs to professional c % pros, and its touchpoints are 2c+1, 2c+2.
        contact_created = [at(c, n_contacts) for c in range(n_contacts)]

        def contacts():
            for c in range(n_contacts):
                created = contact_created[c]
                name = person()
                email = f"{name.lower().replace(' ', '.')}.{c}@example.net"
                category = choice(CATEGORIES)
                yield (
                    c + 1, c % pros + 1, name, email, "", choice(KINDS), category,
                    D((created - timedelta(days=120)).date()),
                    D((created - timedelta(days=30)).date()),
                    "A practice owner who is unhappy with their adviser", choice((None, 1, 2, 3)),
                    choice(("", "a free review of their plan")), choice(PREFERENCES),
                    T(now) if chance() < 0.02 else None, None, "", T(created), T(created),
                    searchable_text(name, email, category),
                )  # fmt: skip

        counts["contact"] = load.load("contact", CONTACT, contacts())

        def touchpoints():
            today = now.date()
            value = "We reviewed your quarter and found two savings."
            for c in range(n_contacts):
                created = contact_created[c]
                answered = created + timedelta(days=randint(1, 20))
                user_id = c % pros + 1
                yield (
                    2 * c + 1, user_id, c + 1, D(created.date()), value, "", 2, "answered", yes,
                    no, no, 1, yes, T(created), T(answered), T(answered), T(created),
                )  # fmt: skip
                yield (
                    2 * c + 2, user_id, c + 1, D(today + timedelta(days=randint(-30, 90))),
                    value, "", 2, "planned", no, no, no, 1, yes, None, None, None, T(answered),
                )  # fmt: skip

        counts["touchpoint"] = load.load("touchpoint", TOUCHPOINT, touchpoints())
        counts["connection"] = load.load("connection", CONNECTION, (
            (c // 5 + 1, c % pros + 1, c + 1, person(), "Smile Dental", "Their dentist",
             choice(("not_asked", "yes", "not_now")), T(contact_created[c]))
            for c in range(0, n_contacts, 5)
        ))  # fmt: skip
        counts["contact_moment"] = load.load("contact_moment", MOMENT, (
            (c % pros + 1, c + 1, choice(("expectation", "insight", "permission")),
             D(contact_created[c].date()), "", T(contact_created[c]))
            for c in range(0, n_contacts, 10)
        ))  # fmt: skip

        # Referrals: referral r belongs to professional r % pros, from one of that
        # professional's contacts made before it (a few referrers bring most).
        # Each one that moved on has a status event; most were thanked.
        per_pro = [list(range(p, n_contacts, pros)) for p in range(pros)]
        events, emails = [], []
        recent = now - timedelta(days=120)

        def referrals():
            for r in range(n_referrals):
                p = r % pros
                created = at(r, n_referrals)
                mine = per_pro[p]
                known = max(1, int(len(mine) * (r + 1) / n_referrals))
                skew = chance() ** 3 if chance() < 0.7 else chance()
                c = mine[int(known * skew)]
                status = choice(RECENT if created > recent else SETTLED)
                step = created
                if status != "new":
                    step = min(now, created + timedelta(days=randint(1, 40)))
                thanked = created + timedelta(days=2) if chance() < 0.9 else None
                if thanked and thanked > now:
                    thanked = None
                author = f"Professional {p + 1}"
                if status != "new":
                    events.append((
                        r + 1, p + 1, "status", "new", status, "", "Good news: we met last week.",
                        choice(("queued", "skipped", "none")), None, author, T(step),
                    ))  # fmt: skip
                if thanked and chance() < 0.2:
                    events.append((
                        r + 1, p + 1, "thanks", None, None, "", "Thank you for introducing us.",
                        "queued", T(thanked), author, T(thanked),
                    ))  # fmt: skip
                if r % 50 == 0:
                    emails.append((
                        len(emails) + 1, p + 1, c + 1, "referrer_update", "Referrer",
                        f"referrer{c}@example.net", f"pro{p + 1}@bench.example",
                        "News about the people you introduced", "Good news: we met last week.",
                        "<p>Good news: we met last week.</p>", f"<bench-{r}@referloop.example>",
                        "", choice(("sent",) * 8 + ("failed", "queued")), 1, T(created), "",
                        T(created), T(created),
                    ))  # fmt: skip
                name = person()
                won = status == "won"
                yield (
                    r + 1, p + 1, c + 1, 2 * c + 1, 0, name,
                    f"{name.lower().replace(' ', '.')}.{r}@example.org", "",
                    "We play tennis together.", choice(NEEDS), choice(INTRO_METHODS), T(created),
                    "2026-11", status, load.money(Decimal(randint(5, 200) * 100)) if won else None,
                    T(step), yes if chance() < 0.03 else no, "", "", "", T(thanked), T(created),
                )  # fmt: skip

        counts["referral"] = load.load("referral", REFERRAL, referrals())
        counts["referral_event"] = load.load("referral_event", EVENT, iter(events))
        counts["outbound_email"] = load.load("outbound_email", EMAIL, iter(emails))
        seconds = elapsed()

    with app.app_context(), stopwatch() as elapsed:
        _settle(db.engine)
        settle_seconds = elapsed()
    db_dispose(app)
    return {
        "rows": counts,
        "seconds": round(seconds, 1),
        "settle_seconds": round(settle_seconds, 1),
    }


def _settle(engine) -> None:
    """What a production database has after a bulk load: statistics (and, on
    PostgreSQL, a visibility map, which autovacuum would build soon after), and
    its writes on disk. The load leaves the kernel about a gigabyte of dirty pages
    (and SQLite a WAL of up to 40 MB) that it would write back during the timing
    otherwise, on the same two cores; a database in service is not in the middle
    of that."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
    else:
        # On the driver's connection: outside any transaction, which a checkpoint needs.
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    os.sync()


def db_dispose(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# Real HTTP


class Browser:
    """A signed-in HTTP client over loopback that keeps its cookies."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                # The server closed an idle keep-alive connection: open a new one.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        if response.headers.get("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, payload

    def sign_in(self, email: str) -> None:
        status, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
        if token is None:
            token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        status, _ = self.request(
            "POST",
            "/login",
            {"csrf_token": token.group(1).decode(), "email": email, "password": PASSWORD},
        )
        if status != 303 and status != 302:
            raise RuntimeError(f"sign-in failed with {status}")


def time_pages(urls: dict[str, str], pages: dict, warmup: int, timed: int) -> dict:
    """p50 milliseconds of each page in each database, signed in as the first
    professional, over HTTP.

    One server per database, all running at once, and the requests alternate
    between them: on a shared machine, load that comes and goes then slows both
    sides alike instead of skewing the ratio.
    """
    samples = {label: {} for label in urls}
    with contextlib.ExitStack() as stack:
        browsers = {}
        for label, url in urls.items():
            # One worker per database: both are served at once on two cores.
            env = {**flask_env(url), "WEB_CONCURRENCY": "1"}
            server = stack.enter_context(gunicorn("wsgi:app", env))
            browsers[label] = Browser(int(server.url.rsplit(":", 1)[1]))
            browsers[label].sign_in("pro1@bench.example")
        for name, (path, htmx, where) in pages.items():
            headers = {"HX-Request": "true"} if htmx else {}
            targets = [label for label in urls if label in where]
            for n in range(warmup + timed):
                for label in targets:
                    started = time.perf_counter()
                    status, _ = browsers[label].request("GET", path, headers=headers)
                    took = time.perf_counter() - started
                    if status != 200:
                        raise RuntimeError(f"{path} answered {status} ({label})")
                    if n >= warmup:
                        samples[label].setdefault(name, []).append(took)
    return {
        label: {name: round(p50(times) * 1000, 2) for name, times in pages_of.items()}
        for label, pages_of in samples.items()
    }


# Counting queries


def _sample_ids(app, user_id: int) -> dict[str, int]:
    """Real rows of the professional for every URL parameter, the fullest ones where it
    matters (the contact with the most referrals, a referral with a status step)."""
    from app.extensions import db
    from app.models import (
        Connection,
        EventKind,
        IntroMethod,
        OutboundEmail,
        Referral,
        ReferralEvent,
        Touchpoint,
        WantedCategory,
    )

    with app.app_context():
        session = db.session
        contact_id = session.scalar(
            sa.select(Referral.contact_id)
            .where(Referral.user_id == user_id)
            .group_by(Referral.contact_id)
            .order_by(sa.func.count().desc(), Referral.contact_id)
            .limit(1)
        )
        event = session.execute(
            sa.select(ReferralEvent.id, ReferralEvent.referral_id)
            .join(Referral, Referral.id == ReferralEvent.referral_id)
            .where(
                ReferralEvent.user_id == user_id,
                ReferralEvent.kind == EventKind.STATUS,
                ReferralEvent.update_state != "queued",
                Referral.intro_method == IntroMethod.DRAFT_FOR_REFERRER,
            )
            .order_by(ReferralEvent.id)
            .limit(1)
        ).one()
        connection_contact, connection_id = session.execute(
            sa.select(Connection.contact_id, Connection.id)
            .where(Connection.user_id == user_id)
            .order_by(Connection.id)
            .limit(1)
        ).one()
        ids = {
            "contact_id": contact_id,
            "referral_id": event.referral_id,
            "event_id": event.id,
            "touchpoint_id": session.scalar(
                sa.select(sa.func.max(Touchpoint.id)).where(
                    Touchpoint.user_id == user_id, Touchpoint.contact_id == contact_id
                )
            ),
            "email_id": session.scalar(
                sa.select(sa.func.min(OutboundEmail.id)).where(OutboundEmail.user_id == user_id)
            ),
            "category_id": session.scalar(
                sa.select(sa.func.min(WantedCategory.id)).where(WantedCategory.user_id == user_id)
            ),
            "connection_contact_id": connection_contact,
            "connection_id": connection_id,
        }
        # The referrer of the chosen referral, for the list's referrer filter.
        ids["referrer_id"] = session.scalar(
            sa.select(Referral.contact_id).where(Referral.id == event.referral_id)
        )
        session.remove()
    assert all(ids.values()), ids
    return ids


def signed_in_pages(app, ids: dict) -> list[tuple[str, str, str]]:
    """(endpoint, rule, path) of every signed-in GET page, from the URL map, with real ids."""
    client = app.test_client()
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {}
        for argument in rule.arguments:
            key = argument
            if rule.endpoint.startswith("connections.") and argument == "contact_id":
                key = "connection_contact_id"
            if key not in ids:
                values = None  # a token page: the referrer's side, not signed in
                break
            values[argument] = ids[key]
        if values is None:
            continue
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **values)
        # Signed-in pages send a visitor who is not signed in to the sign-in page.
        response = client.get(path)
        if response.status_code in (301, 302, 303) and "/login" in response.headers.get(
            "Location", ""
        ):
            pages.append((rule.endpoint, rule.rule, path))
    return pages


# Pages that need a query string to be more than a redirect.
REQUIRED_QUERY = {"touchpoints.new": "contact_id={contact_id}"}
# Query strings that reach other branches of the lists.
VARIANTS = {
    "referrals.index": (
        "view=attention",
        "status=contacted&sort=name",
        "sort=quiet&kind=vendor&age=90",
        "referrer={referrer_id}",
        "page=40",
    ),
    "contacts.index": ("q=ann", "q=zzzz-nobody", "page=5"),
    "outbox.index": ("state=failed", "state=retried"),
    "touchpoints.index": ("show=upcoming", "show=sent", "show=cancelled"),
}


def count_queries(app, ids: dict) -> dict[str, int]:
    """Queries per signed-in request: every GET page (also as htmx), then the htmx POSTs."""
    from app.extensions import db

    pages = signed_in_pages(app, ids)
    requests = []
    for endpoint, template, path in pages:
        if endpoint in REQUIRED_QUERY:
            query = REQUIRED_QUERY[endpoint]
            template, path = f"{template}?{query}", f"{path}?{query.format(**ids)}"
        requests.append((f"GET {template}", path, False))
        for query in VARIANTS.get(endpoint, ()):
            requests.append((f"GET {template}?{query}", f"{path}?{query.format(**ids)}", False))
    # The same again as htmx asks for them: the fragment where a view has one.
    requests += [(f"{label} (htmx)", path, True) for label, path, _ in list(requests)]
    referral = ids["referral_id"]
    status = "/referrals/<int:referral_id>/status"
    posts = [
        # In-place status changes (on a list row, on the referral's page) and a note.
        (
            f"POST {status} where=list (htmx)",
            f"/referrals/{referral}/status",
            {"status": "meeting_set", "where": "list"},
        ),
        (
            "POST /referrals/<int:referral_id>/note (htmx)",
            f"/referrals/{referral}/note",
            {"note": "Called; they will decide next week."},
        ),
        (
            f"POST {status} where=detail (htmx)",
            f"/referrals/{referral}/status",
            {"status": "contacted", "where": "detail"},
        ),
    ]

    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": f"pro{ids['user_id']}@bench.example",
              "password": PASSWORD},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.status_code
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)", statement, re.I):
            statements.append(statement)

    counts = {}
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for label, path, htmx in requests:
            headers = {"HX-Request": "true"} if htmx else {}
            statements.clear()
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
            counts[label] = len(statements)
        for label, path, form in posts:
            statements.clear()
            response = client.post(
                path, data=form, headers={"HX-Request": "true", "X-CSRFToken": csrf}
            )
            if response.status_code != 200:
                raise RuntimeError(f"POST {path} answered {response.status_code}")
            counts[label] = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    db_dispose(app)
    return counts


# The whole measure


def build(kind: str, name: str, size: Size) -> tuple[str, object, dict]:
    url = database_url(kind, name)
    app = make_app(url)
    with stopwatch() as elapsed:
        made = generate(app, size)
    total = round(elapsed(), 1)
    say(
        f"{kind} {name}: {made['rows']['referral']:,} referrals, "
        f"{made['rows']['contact']:,} contacts in {made['seconds']} s "
        f"(+{made['settle_seconds']} s settling; {total} s in all)"
    )
    return url, app, {**made, "total_seconds": total, "size": size.__dict__}


def measure(kind: str, quick: bool) -> dict:
    """Build both databases, time the pages over HTTP, count every page's queries."""
    big_size = BIG_QUICK if quick else BIG
    warmup, timed = (10, 20) if quick else (30, 60)
    small_url, small_app, small_made = build(kind, "admin_small", SMALL)
    big_url, big_app, big_made = build(kind, "admin_big", big_size)

    say("timing pages over HTTP")
    pages = {name: page for name, page in TIMED.items() if not quick or page[2] == BOTH}
    ms = time_pages({"small": small_url, "big": big_url}, pages, warmup, timed)
    ratios = {
        name: round(ms["big"][name] / ms["small"][name], 3) for name in pages if name in ms["small"]
    }

    say("counting queries")
    queries = {}
    for label, app in (("small", small_app), ("big", big_app)):
        ids = {**_sample_ids(app, 1), "user_id": 1}
        queries[label] = count_queries(app, ids)
    every = {**queries["small"], **queries["big"]}
    worst = max(every, key=every.get)
    constant = queries["small"] == queries["big"]
    differing = {
        page: (queries["small"].get(page), queries["big"].get(page))
        for page in every
        if queries["small"].get(page) != queries["big"].get(page)
    }
    return {
        "admin_scale_ratio": max(ratios[name] for name in IN_RATIO),
        "admin_queries_max": every[worst],
        "admin_queries_constant": constant,
        "details": {
            "database": kind,
            "quick": quick,
            "p50_ms": {
                name: {
                    "small": ms["small"].get(name),
                    "big": ms["big"][name],
                    "ratio": ratios.get(name),
                }
                for name in pages
            },
            "queries_max_page": worst,
            "queries": {
                page: {"small": queries["small"].get(page), "big": queries["big"].get(page)}
                for page in every
            },
            "queries_differing": differing,
            "generation": {"small": small_made, "big": big_made},
        },
    }


def _print(result: dict) -> None:
    details = result["details"]
    print(f"\nSigned-in pages at scale ({details['database']}"
          f"{', quick' if details['quick'] else ''})")  # fmt: skip
    print(f"{'page':<24}{'small ms':>10}{'big ms':>10}{'ratio':>8}")
    for page, row in details["p50_ms"].items():
        small = "-" if row["small"] is None else f"{row['small']:.1f}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{page:<24}{small:>10}{row['big']:>10.1f}{ratio:>8}")
    print(f"admin_scale_ratio      {result['admin_scale_ratio']:.2f}  (target <= 1.5)")
    print(
        f"admin_queries_max      {result['admin_queries_max']}  ({details['queries_max_page']}; "
        f"target <= 10)"
    )
    print(f"admin_queries_constant {result['admin_queries_constant']}")
    for page, (small, big) in details["queries_differing"].items():
        print(f"  differs: {page}: {small} small, {big} big")
    for label, made in details["generation"].items():
        print(
            f"generation {label}: {made['seconds']} s inserting, "
            f"{made['settle_seconds']} s settling"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="a tenth of the big database")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = measure(args.kind, args.quick)
    _print(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2, default=str)
    if os.environ.get("BENCH_VERBOSE"):
        print(json.dumps(result["details"]["queries"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
