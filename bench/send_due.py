"""``touchpoints send-due`` at scale: seconds per 1,000 due touchpoints, at two totals.

Two databases, each built by the migrations and filled in bulk (the driver's
executemany in chunks on SQLite, COPY on PostgreSQL; the indexes built after
the rows): 1,000,000 contacts over 100 professionals and 100,000 contacts
(quick mode: 100,000 and 10,000). Every contact has the history a few years of use
leave: one or two past touchpoints (answered, sent, now and then cancelled)
and, when it has a rhythm, the next one planned in the coming three months.
Some contacts have no rhythm (their own choice, or their professional has
none), some planned touchpoints are overdue but wait for the professional to
send them by hand, and 1% of contacts unsubscribed, some while a touchpoint
that sends itself was due (it stays due, and is passed over on every run):
apart from those, nothing there is send-due's work.

Each trial makes fresh work among contacts not used before: D planned
touchpoints become due and marked to send themselves, and D/4 contacts get
their latest touchpoint answered (as the referrer's form does), so the rhythm
must plan their next one. Then the real command runs as a subprocess,
``flask --app wsgi touchpoints send-due``, and is timed; its output and the
outbox are checked (exactly D emails, to those D contacts, none twice). A
second, untimed run plans the next touchpoints of the D just sent, so every
trial starts from the same steady state.

Process start-up (``flask --app wsgi touchpoints --help``) is timed apart and
subtracted; a send-due with nothing due is reported too, and the cost per 1,000
above it. The figure is the median over the trials at the larger total with
D = 1,000.

``python -m bench.send_due --kind sqlite [--quick]`` prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from bench.common import (
    ROOT,
    Loader,
    database_url,
    flask_env,
    make_app,
    p50,
    say,
    stopwatch,
)

PROFESSIONALS = 100
TOTALS = (100_000, 1_000_000)
QUICK_TOTALS = (10_000, 100_000)
DUES = (1_000, 2_000)
TRIALS = 3
QUICK_TRIALS = 2
CHUNK = 10_000
RHYTHM_DAYS = 91
OUTPUT = re.compile(r"Queued (\d+) touchpoint emails?; planned (\d+) next touchpoints?\.")

FIRST = ("Ann", "Bea", "Ben", "Carla", "Dana", "Dev", "Emma", "Femi", "Gus", "Hana", "Ian", "Jo")
LAST = ("Abbott", "Baker", "Chen", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Khan")
HISTORY = "We reviewed your quarter and found two savings."
MESSAGE = (
    "Hi {first},\n\nWe reviewed your quarter and found two savings.\n\n"
    "My practice grows through introductions from people I've worked with. Who are the 2 "
    "people you've already talked to about working with me? The link below takes a minute "
    "and lets you tell me how you'd like the introduction to happen.\n\nThank you,\nPro {pro}"
)


USER = "id email password_hash display_name business_name value_proposition blurb ask_count "
USER += "first_touchpoint_days rhythm_days attention_days failed_logins created_at"
CONTACT = "id user_id name email phone kind category delivered_on terms_what_counts "
CONTACT += "terms_in_return update_preference unsubscribed_at rhythm_days notes created_at "
CONTACT += "updated_at"
TOUCHPOINT = "user_id contact_id due_on value_offered message ask_count state from_delivery "
TOUCHPOINT += "auto_send ask_for_vendors link_version link_active sent_at first_opened_at "
TOUCHPOINT += "answered_at rhythm_pending created_at"


def generate(app, contacts: int) -> list[int]:
    """Fill the app's empty database; returns the ids of the contacts trials may use.

    Those have a rhythm, an email address, and their next touchpoint planned in
    the future: the ordinary contact, whose touchpoint a trial can make due.
    """
    from app.extensions import db
    from app.models import Contact, Touchpoint

    rng = random.Random(5)
    today = date.today()
    now = datetime.now(UTC).replace(microsecond=0)
    # Every twentieth professional works without a rhythm; 3% of the others'
    # contacts asked for no regular touchpoints; 1% of contacts unsubscribed.
    no_rhythm_pros = {p for p in range(1, PROFESSIONALS + 1) if p % 20 == 0}
    usable = []

    with app.app_context(), db.engine.begin() as connection:
        load = Loader(connection, chunk=CHUNK)
        T, D, B = load.time, load.day, load.flag
        if load.sqlite:
            connection.exec_driver_sql("PRAGMA cache_size = -400000")  # 400 MB, for the load
        else:
            # No foreign key checks while loading (rows made consistent by construction):
            # one per row and key is most of what PostgreSQL spends here.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        # As a bulk load does: the rows first, then the indexes, each built in one pass
        # (the same indexes the migrations made: the models match them, a test checks).
        indexes = [*Contact.__table__.indexes, *Touchpoint.__table__.indexes]
        for index in indexes:
            index.drop(connection)
        load.load("user", USER, (
            (p, f"pro{p}@bench.example", "!", f"Pro {p}", f"Practice {p}",
             "helps dental practices cut their tax bill", "", 2, 90,
             None if p in no_rhythm_pros else RHYTHM_DAYS, 14, 0, T(now - timedelta(days=2000)))
            for p in range(1, PROFESSIONALS + 1)
        ))  # fmt: skip

        def contact_rows():
            for c in range(1, contacts + 1):
                created = now - timedelta(days=400 + c % 1500)
                yield (
                    c, c % PROFESSIONALS + 1, f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    f"contact{c}@example.net", "", "client", "", D(created.date()), "", "",
                    "every_step", T(now) if c % 100 == 2 else None, 0 if c % 33 == 0 else None,
                    "", T(created), T(created),
                )  # fmt: skip

        load.load("contact", CONTACT, contact_rows())

        def touchpoint_rows():
            for c in range(1, contacts + 1):
                pro = c % PROFESSIONALS + 1
                rhythm = pro not in no_rhythm_pros and c % 33 != 0
                auto = B(c % 2 == 0)
                # The next one is planned RHYTHM_DAYS after the latest past one.
                next_due = today + timedelta(days=1 + (c * 7) % (RHYTHM_DAYS - 1))
                for k in range(2 if c % 3 == 0 else 1, 0, -1):
                    due = next_due - timedelta(days=RHYTHM_DAYS * k)
                    sent = datetime.combine(due, datetime.min.time(), UTC)
                    cancelled = k == 1 and c % 50 == 7
                    answered = not cancelled and c % 4 != 0
                    state = "cancelled" if cancelled else "answered" if answered else "sent"
                    # The rhythm has acted after every one of them (rhythm_pending false):
                    # the next one is planned or, without a rhythm, there is none to plan.
                    yield (
                        pro, c, D(due), HISTORY, HISTORY, 2, state, load.no, auto, load.no, 1,
                        load.yes, None if cancelled else T(sent),
                        T(sent + timedelta(days=1)) if answered else None,
                        T(sent + timedelta(days=2)) if answered else None, load.no, T(sent),
                    )  # fmt: skip
                if not rhythm:
                    continue
                # 2% wait, overdue, for the professional to send them by hand; the
                # unsubscribed contacts' ones that send themselves can never go.
                by_hand, unsubscribed = c % 50 == 3, c % 100 == 2
                if not by_hand and not unsubscribed:
                    usable.append(c)
                overdue = today - timedelta(days=1 + c % 60)
                yield (
                    pro, c, D(overdue if by_hand or unsubscribed else next_due),
                    HISTORY, MESSAGE.format(first=FIRST[c % len(FIRST)], pro=pro), 2, "planned",
                    load.no, load.no if by_hand else auto, load.no, 1, load.yes, None, None, None,
                    load.yes, T(now - timedelta(days=RHYTHM_DAYS)),
                )  # fmt: skip

        touchpoints = load.load("touchpoint", TOUCHPOINT, touchpoint_rows())
        for index in indexes:
            index.create(connection)
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # What autovacuum and the checkpointer would have done by now.
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
            connection.commit()
    with app.app_context():
        db.engine.dispose()  # on SQLite the last connection checkpoints the WAL
    # The load wrote a gigabyte: let the disk take it before anything is timed.
    os.sync()
    say(f"{contacts:,} contacts, {touchpoints:,} touchpoints")
    rng.shuffle(usable)
    return usable


def _flask(env: dict, *args: str) -> tuple[float, str]:
    """Run ``flask --app wsgi ...`` from the repository root; (seconds, stdout)."""
    command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", *args]
    with stopwatch() as elapsed:
        done = subprocess.run(  # noqa: S603 (our own venv's flask)
            command, cwd=ROOT, env=env, capture_output=True, text=True
        )
        seconds = elapsed()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def _send_due(env: dict) -> tuple[float, int, int]:
    """One real ``touchpoints send-due``: (seconds, emails queued, touchpoints planned)."""
    seconds, output = _flask(env, "touchpoints", "send-due")
    found = OUTPUT.search(output)
    if found is None:
        raise RuntimeError(f"unexpected send-due output: {output!r}")
    return seconds, int(found.group(1)), int(found.group(2))


def _make_work(app, due: list[int], answered: list[int]) -> None:
    """The touchpoints planned for ``due`` fall due and send themselves; the ones
    planned for ``answered`` are answered, so their rhythm needs the next one."""
    from app.extensions import db
    from app.models import Touchpoint, TouchpointState

    table = Touchpoint.__table__
    today = date.today()
    now = datetime.now(UTC)
    planned = sa.and_(
        table.c.contact_id == sa.bindparam("contact"),
        table.c.state == TouchpointState.PLANNED,
    )
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.update(table).where(planned).values(due_on=sa.bindparam("due"), auto_send=True),
            [{"contact": c, "due": today - timedelta(days=c % 20)} for c in due],
        )
        # Sent and answered, minus the referrals and the answer's own planning: a plain
        # UPDATE of the state, as a first opening of the link makes.
        connection.execute(
            sa.update(table)
            .where(planned)
            .values(
                due_on=today,
                state=TouchpointState.ANSWERED,
                sent_at=now,
                first_opened_at=now,
                answered_at=now,
            ),
            [{"contact": c} for c in answered],
        )
        db.engine.dispose()


def _check_queued(app, due: list[int], after_email_id: int, since: datetime) -> int:
    """Exactly one email to each of the ``due`` contacts, none to anyone else, and
    their touchpoints marked sent since ``since``; the highest email id so far."""
    from app.extensions import db
    from app.models import OutboundEmail, Touchpoint, TouchpointState

    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboundEmail.id, OutboundEmail.contact_id).where(
                OutboundEmail.id > after_email_id, OutboundEmail.template == "touchpoint"
            )
        ).all()
        contacts = [contact for _, contact in rows]
        if len(contacts) != len(due) or set(contacts) != set(due):
            raise RuntimeError(
                f"expected one email to each of {len(due)} contacts, got {len(contacts)} "
                f"emails to {len(set(contacts))} contacts"
            )
        sent = db.session.scalar(
            sa.select(sa.func.count()).where(
                Touchpoint.contact_id.in_(due),
                Touchpoint.state == TouchpointState.SENT,
                Touchpoint.auto_send.is_(True),
                Touchpoint.sent_at >= since,
            )
        )
        if sent != len(due):
            raise RuntimeError(f"{sent} due touchpoints marked sent, expected {len(due)}")
        highest = max(email for email, _ in rows)
        db.session.remove()
        db.engine.dispose()
    return highest


def _check_planned(app, contacts: list[int]) -> None:
    """Each of these contacts has exactly one planned touchpoint."""
    from app.extensions import db
    from app.models import Touchpoint, TouchpointState

    with app.app_context():
        counts = db.session.execute(
            sa.select(Touchpoint.contact_id, sa.func.count())
            .where(
                Touchpoint.contact_id.in_(contacts),
                Touchpoint.state == TouchpointState.PLANNED,
            )
            .group_by(Touchpoint.contact_id)
        ).all()
        if len(counts) != len(contacts) or any(count != 1 for _, count in counts):
            raise RuntimeError("a contact without its one next touchpoint planned")
        db.session.remove()
        db.engine.dispose()


def measure_total(kind: str, contacts: int, trials: int) -> dict:
    """One database of ``contacts`` contacts: start-up, idle run, and each D's trials."""
    url = database_url(kind, f"send_due_{contacts}")
    env = flask_env(url)
    with stopwatch() as elapsed:
        app = make_app(url)
        usable = generate(app, contacts)
        generation = elapsed()
    say(f"{kind}, {contacts:,} contacts generated in {generation:.1f} s")

    startup = p50([_flask(env, "touchpoints", "--help")[0] for _ in range(5)])
    idle = []
    seconds, queued, planned = _send_due(env)  # warm the database's cache
    if (queued, planned) != (0, 0):
        raise RuntimeError(f"the steady state is not steady: queued {queued}, planned {planned}")
    for _ in range(3):
        seconds, queued, planned = _send_due(env)
        if (queued, planned) != (0, 0):
            raise RuntimeError(f"nothing was due, yet: queued {queued}, planned {planned}")
        idle.append(seconds)

    result = {
        "contacts": contacts,
        "generation_seconds": round(generation, 1),
        "startup_seconds": round(startup, 3),
        "nothing_due_seconds": round(p50(idle), 3),
        "due": {},
    }
    last_email, taken, runs = 0, 0, {due_count: [] for due_count in DUES}
    # Each size of D in turn, trial after trial: a slower moment of a shared machine
    # lands on both.
    for _ in range(trials):
        for due_count in DUES:
            answered_count = due_count // 4
            due = usable[taken : taken + due_count]
            answered = usable[taken + due_count : taken + due_count + answered_count]
            taken += due_count + answered_count
            if len(answered) != answered_count:
                raise RuntimeError("not enough contacts for fresh work in every trial")
            _make_work(app, due, answered)
            os.sync()
            started = datetime.now(UTC)
            seconds, queued, planned = _send_due(env)
            if (queued, planned) != (due_count, answered_count):
                raise RuntimeError(
                    f"send-due queued {queued} and planned {planned}; "
                    f"expected {due_count} and {answered_count}"
                )
            last_email = _check_queued(app, due, last_email, started)
            # The D just sent are past and no longer planned: their next ones, untimed.
            _, queued, planned = _send_due(env)
            if (queued, planned) != (0, due_count):
                raise RuntimeError(f"after the run: queued {queued}, planned {planned}")
            _check_planned(app, due + answered)
            runs[due_count].append(seconds)
            say(f"{contacts:,} contacts, D={due_count}: {seconds:.2f} s")
    for due_count, seconds in runs.items():
        result["due"][str(due_count)] = {
            "seconds": round(p50(seconds), 3),
            "runs": [round(run, 3) for run in seconds],
            "answered_planned": due_count // 4,
            "seconds_per_1k_due": round((p50(seconds) - startup) / due_count * 1000, 3),
            "seconds_per_1k_above_nothing_due": round(
                (p50(seconds) - p50(idle)) / due_count * 1000, 3
            ),
        }
    return result


def measure(kind: str, quick: bool) -> dict:
    """``send_due_seconds_per_1k_due`` at the larger total, and every figure behind it."""
    totals = QUICK_TOTALS if quick else TOTALS
    trials = QUICK_TRIALS if quick else TRIALS
    details = {str(total): measure_total(kind, total, trials) for total in totals}
    largest = details[str(max(totals))]
    return {
        "send_due_seconds_per_1k_due": largest["due"][str(DUES[0])]["seconds_per_1k_due"],
        "details": details,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = measure(args.kind, args.quick)
    print(json.dumps(result, indent=2))
    print(f"\nsend-due on {args.kind}, start-up excluded:", file=sys.stderr)
    for total, figures in result["details"].items():
        per_1k = ", ".join(
            f"D={d}: {run['seconds_per_1k_due']:.3f} s/1k" for d, run in figures["due"].items()
        )
        print(
            f"  {int(total):>9,} contacts: {per_1k}; "
            f"nothing due {figures['nothing_due_seconds']:.2f} s, "
            f"start-up {figures['startup_seconds']:.2f} s, "
            f"generated in {figures['generation_seconds']:.0f} s",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
