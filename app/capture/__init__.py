from flask import Blueprint

bp = Blueprint("capture", __name__)

from . import drafts  # noqa: E402,F401,I001
from . import routes  # noqa: E402, F401
