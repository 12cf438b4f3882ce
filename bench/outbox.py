"""Outbox delivery against the fastest a Python sender could go.

``outbox_ratio``: emails per second delivered by the real ``flask --app wsgi
outbox deliver`` to a local SMTP server, divided by emails per second of a bare
smtplib loop that sends the same messages (already built) over one connection
to the same server. The command's own start-up (Python, the app, an empty claim)
is measured with an empty outbox and left out of its rate, and reported. Every
Message-ID the server received is counted: each email exactly once.
"""

from __future__ import annotations

import json
import smtplib
import statistics
import subprocess
import sys
import time
from email.utils import make_msgid
from pathlib import Path

from .common import DATA, ROOT, flask_env, main, make_app, say
from .common import database_url as fresh_database
from .servers import free_port

SENDER = "Referloop <no-reply@referloop.test>"

BODY_TEXT = (
    "Hi {name},\n\nThank you for introducing David Jones, Zoë Martin and Sam O'Neil. "
    "Dana will be in touch with each of them the way you asked, and you'll hear how it "
    "goes.\n\nIf they ask what Dana does: she helps dental practices cut their tax bill.\n\n"
    "See how the people you introduced are doing: http://127.0.0.1:8000/r/{token}\n\n"
    "Dana Reyes\nReyes Advisory\n\n--\nYou get this email because you introduced someone "
    "to Dana. Unsubscribe: http://127.0.0.1:8000/u/{token}\n"
)


class Sink:
    """``bench.smtp_sink`` in its own process, for one phase of the run."""

    def __init__(self) -> None:
        self.port = free_port()
        self.out = DATA / f"smtp-{self.port}.json"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port), str(self.out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def received(self) -> list[str]:
        """Stop the server; the Message-IDs it received, in order."""
        self.process.terminate()
        self.process.wait(timeout=30)
        ids = json.loads(self.out.read_text())
        self.out.unlink()
        return ids


def queue(app, count: int) -> list[str]:
    """``count`` queued emails the size of a real thank-you; their Message-IDs."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import OutboundEmail

    ids = [make_msgid(domain="referloop.test") for _ in range(count)]
    rows = []
    for n, message_id in enumerate(ids):
        text = BODY_TEXT.format(name=f"Referrer {n}", token=f"{n:08d}" * 6)
        html = "".join(f"<p>{line}</p>\n" for line in text.split("\n\n"))
        rows.append(
            {
                "template": "referrer_thanks",
                "to_email": f"referrer{n}@client.example",
                "to_name": f"Referrer {n}",
                "reply_to": "dana@reyes.example",
                "subject": "Thank you for the introductions",
                "body_text": text,
                "body_html": html,
                "message_id": message_id,
                "unsubscribe_url": f"http://127.0.0.1:8000/u/{n:08d}",
            }
        )
    with app.app_context():
        db.session.execute(sa.insert(OutboundEmail), rows)
        db.session.commit()
    return ids


def built_messages(app) -> list[tuple[str, bytes]]:
    """The queued emails as the sender builds them: (recipient, bytes) each."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.mail import message_bytes
    from app.models import EmailState, OutboundEmail

    with app.app_context():
        emails = db.session.scalars(
            sa.select(OutboundEmail)
            .where(OutboundEmail.state == EmailState.QUEUED)
            .order_by(OutboundEmail.id)
        ).all()
        messages = []
        for email in emails:
            wire, recipient = message_bytes(email)
            messages.append((recipient, wire))
        db.session.rollback()
    return messages


def bare_smtplib(messages: list[tuple[str, bytes]], port: int) -> float:
    """Seconds for the plainest loop: one connection, sendmail per message."""
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    for recipient, data in messages:
        smtp.sendmail("no-reply@referloop.test", [recipient], data)
    smtp.quit()
    return time.perf_counter() - started


def run_deliver(url: str, port: int) -> tuple[float, str]:
    """Seconds for one real ``flask --app wsgi outbox deliver``, and what it printed."""
    env = flask_env(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_DEFAULT_SENDER=SENDER)
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "outbox", "deliver"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"outbox deliver failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout.strip()


def measure(kind: str, quick: bool) -> dict:
    """Rounds of: queue, deliver with the command, send the same messages bare.

    The two run back to back in each round, so a burst of other work on the
    machine hits both alike; the ratio is the median of the rounds'.
    """
    rounds, count = (3, 1_000) if quick else (5, 4_000)
    url = fresh_database(kind, "outbox")
    app = make_app(url, MAIL_DEFAULT_SENDER=SENDER)

    say("outbox deliver with nothing queued (its start-up)")
    with Sink() as sink:
        startup = min(run_deliver(url, sink.port)[0] for _ in range(3))
        sink.received()

    ratios, deliver_rates, bare_rates, printed = [], [], [], ""
    for n in range(rounds):
        say(f"round {n + 1} of {rounds}: outbox deliver, then a bare smtplib loop, {count} emails")
        expected = queue(app, count)
        messages = built_messages(app)
        with Sink() as sink:
            seconds, printed = run_deliver(url, sink.port)
            received = sink.received()
        if sorted(received) != sorted(expected):
            duplicates = len(received) - len(set(received))
            raise RuntimeError(
                f"sent {len(received)} emails ({duplicates} twice) for {len(expected)} queued"
            )
        with Sink() as sink:
            bare = bare_smtplib(messages, sink.port)
            if len(sink.received()) != count:
                raise RuntimeError("the bare loop lost messages")
        deliver_rates.append(count / max(seconds - startup, 1e-9))
        bare_rates.append(count / bare)
        ratios.append(deliver_rates[-1] / bare_rates[-1])

    return {
        "outbox_ratio": round(statistics.median(ratios), 3),
        "details": {
            "emails_per_round": count,
            "rounds": rounds,
            "ratios": [round(r, 3) for r in ratios],
            "deliver_emails_per_second": [round(r) for r in deliver_rates],
            "bare_smtplib_emails_per_second": [round(r) for r in bare_rates],
            "deliver_startup_seconds": round(startup, 3),
            "deliver_printed": printed,
            "duplicates": 0,
        },
    }


if __name__ == "__main__":
    main(measure, __doc__)
