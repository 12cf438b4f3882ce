"""Moments: see routes.py."""

from flask import Blueprint

bp = Blueprint("moments", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
