"""``flask users ...`` (stub: to be built)."""

import click

users_cli = click.Group("users", help="Manage professionals' accounts.")
