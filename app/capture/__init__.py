from flask import Blueprint

bp = Blueprint("capture", __name__)

from . import routes  # noqa: E402, F401
