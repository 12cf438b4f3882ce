"""``flask demo`` (stub: to be built)."""

import click


@click.command("demo")
def demo_command():
    """Seed a demo professional."""
