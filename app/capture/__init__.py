from flask import Blueprint

bp = Blueprint("capture", __name__)

from . import drafts  # noqa: E402,F401,I001
from . import routes  # noqa: E402, F401

from .blank_rows import blank_ask, blank_row  # noqa: E402

bp.add_app_template_global(blank_row, "blank_row")
bp.add_app_template_global(blank_ask, "blank_ask")
