from flask import Blueprint

bp = Blueprint("touchpoints", __name__)

from . import routes  # noqa: E402, F401
