"""The referrer's side under load: the form page and form submissions, against hello.

``form_get_ratio``: GET ``/r/<token>`` of a real touchpoint (a contact with
agreed terms and three known connections, so the form asks about each by name)
per second, divided by the hello view's rate under the same gunicorn settings.
``submit_ratio``: successful submissions per second (three people each, the CSRF
token checked, the thank-you and the professional's notice queued, the next
touchpoint planned), every request for a different touchpoint, divided by the
same hello rate. Success is counted in the database afterwards, not trusted to
the status codes. ``worker_rss_mb``: the largest peak resident memory of any
gunicorn worker during these runs.
"""

from __future__ import annotations

import re
import statistics
import threading
import urllib.request
from collections import defaultdict
from datetime import date, timedelta
from functools import partial
from types import SimpleNamespace
from urllib.parse import urlencode

import sqlalchemy as sa

from .common import DATA, ROOT, flask_env, main, make_app, say
from .common import database_url as fresh_database
from .servers import Server, gunicorn, wrk

WRK_THREADS = 2
WRK_CONNECTIONS = 10
# A phone's browser asks for compressed responses; so does the load client, as
# Chrome and Firefox ask (they take zstd). Safari asks without zstd: its figure
# is measured too, in the details.
BROWSER_HEADERS = {"Accept-Encoding": "gzip, deflate, br, zstd"}
SAFARI_HEADERS = {"Accept-Encoding": "gzip, deflate, br"}


def seed(app, submit_touchpoints: int) -> dict:
    """One professional, the touchpoint whose form is read, and ``submit_touchpoints``
    contacts with a sent touchpoint each, for submissions. Returns their tokens."""
    from app.extensions import db
    from app.models import (
        Connection,
        Contact,
        ContactKind,
        Touchpoint,
        TouchpointState,
        User,
        utcnow,
    )
    from app.tokens import client_link_token

    with app.app_context():
        pro = User(
            email="dana@reyes.example",
            display_name="Dana Reyes",
            business_name="Reyes Advisory",
            value_proposition="helps dental practices cut their tax bill",
            blurb=(
                "Dana Reyes runs Reyes Advisory. She helps dental practices keep more of "
                "what they earn: a review of last year's return, then a plan for this one."
            ),
        )
        pro.set_password("benchmark password")
        db.session.add(pro)
        db.session.flush()
        ann = Contact(
            user_id=pro.id,
            name="Ann Client",
            email="ann@client.example",
            kind=ContactKind.CLIENT,
            delivered_on=date.today() - timedelta(days=90),
            terms_what_counts="a practice owner who is unhappy with their accountant",
            terms_how_many=3,
            terms_in_return="a free quarterly review of your numbers",
        )
        db.session.add(ann)
        db.session.flush()
        db.session.add_all(
            Connection(
                user_id=pro.id,
                contact_id=ann.id,
                name=name,
                organisation=organisation,
                how_known="Mentioned at our last review",
            )
            for name, organisation in [
                ("David Jones", "Acme Dental"),
                ("Maria Lopez", "Smile Studio"),
                ("Tom Baker", "Baker & Sons"),
            ]
        )
        form_touchpoint = Touchpoint(
            user_id=pro.id,
            user=pro,
            contact=ann,
            due_on=date.today(),
            value_offered="Your mid-year tax review, with two savings we found.",
            state=TouchpointState.SENT,
            sent_at=utcnow(),
        )
        form_touchpoint.message = form_touchpoint.default_message()
        db.session.add(form_touchpoint)
        db.session.commit()
        form_token = client_link_token(form_touchpoint)

        # Submissions: one contact and one sent touchpoint each, written in bulk.
        db.session.execute(
            sa.insert(Contact),
            [
                {
                    "user_id": pro.id,
                    "name": f"Client {n}",
                    "email": f"client{n}@client.example",
                    "kind": ContactKind.CLIENT,
                }
                for n in range(submit_touchpoints)
            ],
        )
        contact_ids = db.session.scalars(
            sa.select(Contact.id)
            .where(Contact.user_id == pro.id, Contact.id != ann.id)
            .order_by(Contact.id)
        ).all()
        db.session.execute(
            sa.insert(Touchpoint),
            [
                {
                    "user_id": pro.id,
                    "contact_id": contact_id,
                    "due_on": date.today(),
                    "message": "Who have you already talked to about working with me?",
                    "state": TouchpointState.SENT,
                    "sent_at": utcnow(),
                }
                for contact_id in contact_ids
            ],
        )
        db.session.commit()
        ids = db.session.scalars(
            sa.select(Touchpoint.id)
            .where(Touchpoint.contact_id.in_(contact_ids))
            .order_by(Touchpoint.id)
        ).all()
        tokens = [client_link_token(SimpleNamespace(id=i, link_version=1)) for i in ids]
        return {"user_id": pro.id, "form_token": form_token, "submit_tokens": tokens}


def form_tokens(app, link_tokens: list[str]) -> list[str]:
    """The CSRF token each link's page carries (bound to the link: no cookie needed),
    checked against what the first page really shows."""
    from app.tokens import link_form_token

    with app.app_context():
        tokens = [link_form_token(token) for token in link_tokens]
    html = app.test_client().get(f"/r/{link_tokens[0]}").get_data(as_text=True)
    shown = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if shown is None or shown.group(1) != tokens[0]:
        raise RuntimeError("the form page does not carry the CSRF token the benchmark sends")
    return tokens


def submission_body() -> str:
    """Three people, as a referrer's browser sends them (the CSRF token and the key
    are added per request)."""
    fields = {
        "update_preference": "every_step",
        "action": "submit",
    }
    people = [
        ("David Jones", "david@acme.example", "", "mention_referrer"),
        ("Zoë Martin", "", "+44 20 7946 0958", "referrer_introduces"),
        ("Sam O'Neil", "sam@oneil.example", "", "meet_together"),
    ]
    for i, (name, email, phone, method) in enumerate(people):
        fields |= {
            f"people-{i}-name": name,
            f"people-{i}-email": email,
            f"people-{i}-phone": phone,
            f"people-{i}-how_known": "We play tennis on Thursdays",
            f"people-{i}-need": "Unhappy with their accountant & wants a second opinion",
            f"people-{i}-intro_method": method,
            f"people-{i}-consent": "y",
        }
    return urlencode(fields)


def _check_form_page(server: Server, token: str) -> None:
    """The page under load is the real form, asking about each connection by name."""
    with urllib.request.urlopen(f"{server.url}/r/{token}") as response:  # noqa: S310 (loopback)
        html = response.read().decode()
    for name in ("David Jones", "Maria Lopez", "Tom Baker", "people-0-name"):
        if name not in html:
            raise RuntimeError(f"the form page does not show {name!r}")


def _sampling(server: Server) -> threading.Event:
    """Sample the workers' peak memory twice a second until the event is set."""
    stop = threading.Event()

    def run():
        while not stop.wait(0.5):
            server.sample_memory()

    threading.Thread(target=run, daemon=True).start()
    return stop


def _rate(
    url: str, seconds: float, headers: dict = BROWSER_HEADERS, *, counted=None, **options
) -> float:
    """Requests per second of a wrk run; ``counted`` (a ``WorkerCpu.run`` for one kind
    and server, partly applied) also counts the workers' CPU time."""

    def load():
        return wrk(url, seconds, headers=headers, **options)

    result = counted(load) if counted else load()
    if result.errors:
        raise RuntimeError(f"{url} answered {result.errors} errors:\n{result.output}")
    return result.requests_per_second


class WorkerCpu:
    """The workers' CPU time per request, for each kind of request: steadier from
    one host to another than the rates, since it leaves out wrk and the kernel's
    loopback, which share the two cores."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.requests: dict[str, int] = defaultdict(int)

    def run(self, kind: str, server: Server, load):
        """``load()`` (a wrk run against ``server``), counted under ``kind``."""
        before = server.cpu_seconds()
        result = load()
        self.seconds[kind] += server.cpu_seconds() - before
        self.requests[kind] += result.requests
        return result

    def figures(self) -> dict:
        ms = {kind: 1000 * self.seconds[kind] / self.requests[kind] for kind in self.seconds}
        return {
            "worker_cpu_ms_per_request": {kind: round(value, 3) for kind, value in ms.items()},
            "worker_cpu_in_hellos": {
                kind: round(value / ms["hello"], 1) for kind, value in ms.items() if kind != "hello"
            },
        }


def measure(kind: str, quick: bool) -> dict:
    """Both ratios and the workers' peak memory.

    The hello server and the app run side by side and the load alternates between
    them in short rounds, so a burst of other work on the machine hits both alike;
    each ratio is the median of its rounds.
    """
    from app.extensions import db
    from app.models import OutboundEmail, Referral

    rounds, seconds = (3, 2) if quick else (5, 3)
    url = fresh_database(kind, "load")
    app = make_app(url)
    seeded = seed(app, 4_000 if quick else 15_000)
    links = seeded["submit_tokens"]
    paths = DATA / "submit-paths.txt"
    pairs = zip(links, form_tokens(app, links), strict=True)
    paths.write_text("".join(f"/r/{link} {csrf}\n" for link, csrf in pairs))
    body = DATA / "submit-body.txt"
    body.write_text(submission_body() + "\n")
    submit_env = {
        "BENCH_SUBMIT_PATHS": str(paths),
        "BENCH_SUBMIT_BODY": str(body),
        "BENCH_WRK_THREADS": str(WRK_THREADS),
    }

    env = flask_env(url)
    with gunicorn("bench.hello:app", env) as hello, gunicorn("wsgi:app", env) as server:
        stop = _sampling(server)
        _check_form_page(server, seeded["form_token"])
        form_url = f"{server.url}/r/{seeded['form_token']}"
        hello_url = f"{hello.url}/"
        _rate(hello_url, 1)  # warm up both
        _rate(form_url, 1)

        say(f"form page against hello, {rounds} rounds of {seconds} s each")
        hello_rates, form_rates, safari_rates = [], [], []
        cpu = WorkerCpu()
        for _ in range(rounds):
            hello_rates.append(_rate(hello_url, seconds, counted=partial(cpu.run, "hello", hello)))
            form_rates.append(_rate(form_url, seconds, counted=partial(cpu.run, "form", server)))
            safari_rates.append(_rate(form_url, seconds, SAFARI_HEADERS))

        say(f"form submissions against hello, {rounds} rounds of {seconds} s each")
        with app.app_context():
            referrals_before = db.session.scalar(sa.select(sa.func.count(Referral.id)))
            emails_before = db.session.scalar(sa.select(sa.func.count(OutboundEmail.id)))
            db.session.rollback()
        submit_hello, submit_runs = [], []
        offset = 0
        for _ in range(rounds):
            submit_hello.append(_rate(hello_url, seconds, counted=partial(cpu.run, "hello", hello)))
            run = cpu.run(
                "submit",
                server,
                lambda offset=offset: wrk(
                    f"{server.url}/",
                    seconds,
                    script=ROOT / "bench" / "submit.lua",
                    env={**submit_env, "BENCH_SUBMIT_OFFSET": str(offset)},
                ),
            )
            submit_runs.append(run)
            # The next round starts past every touchpoint this one could have reached.
            offset += run.requests + WRK_CONNECTIONS
        stop.set()
        server.sample_memory()
        rss = dict(server.peak_rss_kb)
        peak_mb = server.peak_worker_rss_mb

    with app.app_context():
        referrals = db.session.scalar(sa.select(sa.func.count(Referral.id))) - referrals_before
        emails = db.session.scalar(sa.select(sa.func.count(OutboundEmail.id))) - emails_before
        db.session.remove()
    if referrals % 3:
        raise RuntimeError(f"{referrals} referrals saved: a submission was half written")
    submissions = referrals // 3
    # Each submission queues two emails: the thank-you and the professional's notice.
    if emails != 2 * submissions:
        raise RuntimeError(f"{submissions} submissions queued {emails} emails, not two each")
    answered = sum(run.requests - run.errors for run in submit_runs)
    # Requests still in flight when wrk stops may be saved without being counted.
    if submissions > answered + rounds * WRK_CONNECTIONS:
        raise RuntimeError(f"{submissions} submissions saved, but wrk saw {answered} answers")
    if submissions < 0.98 * answered:
        raise RuntimeError(f"wrk saw {answered} answers but only {submissions} were saved")
    # Saved submissions, shared out over the rounds by the answers each saw.
    submit_rates = [
        submissions * (run.requests - run.errors) / answered / run.seconds for run in submit_runs
    ]
    form_ratios = [f / h for f, h in zip(form_rates, hello_rates, strict=True)]
    safari_ratios = [f / h for f, h in zip(safari_rates, hello_rates, strict=True)]
    submit_ratios = [r / h for r, h in zip(submit_rates, submit_hello, strict=True)]
    return {
        "form_get_ratio": round(statistics.median(form_ratios), 3),
        "submit_ratio": round(statistics.median(submit_ratios), 3),
        "worker_rss_mb": round(peak_mb, 1),
        "details": {
            "hello_rps": [round(r) for r in hello_rates + submit_hello],
            "form_get_rps": [round(r) for r in form_rates],
            "form_get_ratios": [round(r, 3) for r in form_ratios],
            # The same page for Safari's Accept-Encoding (brotli, no zstd).
            "form_get_ratio_without_zstd": round(statistics.median(safari_ratios), 3),
            "form_get_rps_without_zstd": [round(r) for r in safari_rates],
            "submissions_per_second": [round(r, 1) for r in submit_rates],
            "submit_ratios": [round(r, 3) for r in submit_ratios],
            "submissions_saved": submissions,
            "submit_errors": sum(run.errors for run in submit_runs),
            "submit_p50_ms": [run.latency_p50_ms for run in submit_runs],
            "worker_peak_rss_kb": sorted(rss.values()),
            "rounds": rounds,
            "seconds_per_round": seconds,
            "wrk": f"-t{WRK_THREADS} -c{WRK_CONNECTIONS}",
            **cpu.figures(),
        },
    }


if __name__ == "__main__":
    main(measure, __doc__)
