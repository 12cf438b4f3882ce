"""``flask outbox ...`` (stub: to be built)."""

import click

outbox_cli = click.Group("outbox", help="Deliver and inspect queued email.")
