"""The most-wanted list: the occupational categories a professional wants as sources."""

from flask import Blueprint

bp = Blueprint("categories", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
