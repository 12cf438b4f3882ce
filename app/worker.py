"""``flask worker``: send-due and outbox delivery on a loop, for those without cron.

Each round plans and queues due touchpoints, then delivers the outbox, and logs
one line. A round that fails is logged and rolled back, and the next one runs
as usual. SIGTERM or SIGINT (Ctrl-C) stops the worker after the current round;
while it waits between rounds, it stops at once. Any number of workers can run
at once, on one machine or several: both steps claim their work atomically.
"""

from __future__ import annotations

import logging
import signal
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db
from .mail import deliver_outbox

log = logging.getLogger("referloop.worker")


class _Stop(Exception):
    """Raised by the signal handler to cut a wait between rounds short."""


class Worker:
    def __init__(self, interval: float):
        self.interval = interval
        self.stopping = False
        self._waiting = False

    def run_round(self) -> bool:
        """One round: send-due, then delivery. False if it failed (logged, rolled back)."""
        from .touchpoints.commands import send_due

        try:
            due = send_due()
            delivery = deliver_outbox()
        except Exception:
            log.exception("Worker round failed; the next round runs as usual.")
            db.session.rollback()
            return False
        finally:
            db.session.remove()  # give the connection back between rounds
        if delivery.configured:
            sent = delivery.summary()
        else:
            emails = "email" if delivery.waiting == 1 else "emails"
            sent = f"No SMTP server configured; {delivery.waiting} {emails} waiting in the outbox."
        log.info("%s %s", due.summary(), sent)
        return True

    def handle_signal(self, signum, _frame) -> None:
        if not self.stopping:
            log.info("%s received: stopping after this round.", signal.Signals(signum).name)
        self.stopping = True
        if self._waiting:
            self._waiting = False  # one interruption only, even if signals pile up
            raise _Stop

    def wait(self, seconds: float) -> None:
        """Sleep between rounds; a stop signal ends the sleep at once."""
        try:
            self._waiting = True
            if not self.stopping and seconds > 0:
                time.sleep(seconds)
            self._waiting = False
        except _Stop:
            pass  # the handler has already stopped waiting

    def run(self, once: bool = False) -> bool:
        """Rounds until stopped (or one round); whether the last round succeeded."""
        previous = {
            sig: signal.signal(sig, self.handle_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            log.info(
                "Worker started: one round %s.",
                "only" if once else f"every {self.interval:g} seconds",
            )
            while True:
                started = time.monotonic()
                ok = self.run_round()
                if once or self.stopping:
                    break
                self.wait(self.interval - (time.monotonic() - started))
                if self.stopping:
                    break
            log.info("Worker stopped.")
            return ok
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _log_to_stderr() -> None:
    """Round summaries at INFO on stderr, unless logging is already set up."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)


@click.command("worker")
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    help="Seconds between the starts of two rounds (default: WORKER_INTERVAL_SECONDS, 60).",
)
@click.option("--once", is_flag=True, help="Run one round and exit (1 if it failed).")
@with_appcontext
def worker_command(interval: float | None, once: bool) -> None:
    """Plan and queue due touchpoints, then deliver the outbox, every INTERVAL seconds.

    For servers without cron. Stops after the current round on SIGTERM or Ctrl-C.
    """
    _log_to_stderr()
    if interval is None:
        interval = float(current_app.config["WORKER_INTERVAL_SECONDS"])
    if not Worker(interval).run(once=once) and once:
        raise SystemExit(1)
