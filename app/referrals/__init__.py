"""The referral pipeline: the people referred, their steps, and what their referrers are told."""

from flask import Blueprint

bp = Blueprint("referrals", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
