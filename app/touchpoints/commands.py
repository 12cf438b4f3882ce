"""``flask touchpoints send-due``: the rhythm's next touchpoints, and the emails that are due.

Safe to run from cron every few minutes, on several machines at once: planning
and queueing are both claimed per batch, so nothing is planned or queued twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import click
from flask.cli import AppGroup

from .emails import queue_due_touchpoints
from .planning import plan_due_rhythm

touchpoints_cli = AppGroup("touchpoints", help="Plan and send touchpoints.")


@dataclass
class SendDueReport:
    queued: int = 0
    planned: int = 0

    def summary(self) -> str:
        emails = "email" if self.queued == 1 else "emails"
        touchpoints = "touchpoint" if self.planned == 1 else "touchpoints"
        return (
            f"Queued {self.queued} touchpoint {emails}; planned {self.planned} next {touchpoints}."
        )


def send_due(today: date | None = None) -> SendDueReport:
    """Plan the next touchpoints whose date passed, then queue the due automatic emails.

    Planning comes first: a next touchpoint that is due at once (its rhythm had
    already run out) goes out in the same run when it is marked to send itself.
    """
    today = today or date.today()
    planned = plan_due_rhythm(today)
    queued = queue_due_touchpoints(today)
    return SendDueReport(queued=queued, planned=planned)


@touchpoints_cli.command("send-due")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Act as if today were this date (YYYY-MM-DD), for trying things out.",
)
def send_due_command(today) -> None:
    """Plan next touchpoints and queue the emails of touchpoints due to send themselves.

    The emails wait in the outbox; ``outbox deliver`` (or ``worker``) sends them.
    """
    report = send_due(today.date() if today else None)
    click.echo(report.summary())
