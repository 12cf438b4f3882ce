"""Command-line jobs: ``flask --app wsgi <group> <command>``.

Each command is idempotent and safe to run from cron on several machines at once.
The commands live next to the area they serve; this module only attaches them.
"""

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command group to the app."""
    from .auth.commands import users_cli
    from .demo import demo_command
    from .outbox.commands import outbox_cli
    from .touchpoints.commands import touchpoints_cli
    from .worker import worker_command

    app.cli.add_command(users_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(touchpoints_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(demo_command)
