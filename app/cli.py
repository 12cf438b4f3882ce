"""Command-line jobs: ``flask --app wsgi <group> <command>``.

Each command is idempotent and safe to run from cron on several machines at once.
"""

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command group to the app."""
