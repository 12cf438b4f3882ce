"""``flask outbox ...``: deliver queued email (from cron) and look at the outbox."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..extensions import db
from ..mail import deliver_outbox
from ..models import EmailState, OutboundEmail

outbox_cli = AppGroup("outbox", help="Deliver and inspect queued email.")


@outbox_cli.command("deliver")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Try at most this many emails in this run."
)
def deliver_command(limit: int | None) -> None:
    """Send the queued email that is due.

    Safe to run from cron on several machines at once. Exits 0 even when some
    emails failed: failures are listed on the Outbox page and by ``outbox list``.
    """
    report = deliver_outbox(limit=limit)
    if not report.configured:
        waiting = (
            "1 email is waiting" if report.waiting == 1 else f"{report.waiting} emails are waiting"
        )
        click.echo(f"No SMTP server configured (FLASK_MAIL_SERVER); {waiting} in the Outbox page.")
        return
    click.echo(report.summary())


@outbox_cli.command("list")
@click.option(
    "--state",
    type=click.Choice([state.value for state in EmailState]),
    help="Only emails in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def list_command(state: str | None, limit: int) -> None:
    """Show the newest emails in the outbox, with their state and last error."""
    query = sa.select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(limit)
    if state:
        query = query.where(OutboundEmail.state == EmailState(state))
    emails = db.session.scalars(query).all()
    if not emails:
        click.echo("The outbox is empty." if not state else f"No {state} emails.")
        return
    for email in emails:
        when = email.sent_at if email.state == EmailState.SENT else email.next_attempt_at
        click.echo(
            f"{email.id:>6}  {email.state.value:<7}  {email.attempts:>2} tries  "
            f"{when:%Y-%m-%d %H:%M}  {email.to_email}  {email.subject}"
        )
        if email.last_error and email.state != EmailState.SENT:
            click.echo(f"        last error: {email.last_error}")
