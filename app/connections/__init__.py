"""Connections: see routes.py."""

from flask import Blueprint

bp = Blueprint("connections", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
