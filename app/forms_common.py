"""Validators more than one blueprint's forms use, so every form checks the same way."""

from __future__ import annotations

import re
from datetime import date

from wtforms.validators import Email, Length, Optional, Regexp, ValidationError

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

ACCENTED_LOCAL_PART = (
    "Use an address with plain letters before the @ (accents there can't be delivered)."
)


# Digits with the usual separators; an optional leading + and an extension.
PHONE = re.compile(r"^\+?[0-9 ().\-/]{6,30}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)


def strip(value):
    """Filter: surrounding spaces are never part of what someone meant."""
    return value.strip() if isinstance(value, str) else value


def _enough_digits(form, field) -> None:
    if field.data and sum(ch.isdigit() for ch in field.data) < 6:
        raise ValidationError("A phone number needs at least 6 digits.")


def phone_validators() -> list:
    """The one rule for a phone number, wherever one is typed (optional field)."""
    return [
        Optional(),
        Length(max=40, message="A phone number has at most 40 characters."),
        Regexp(PHONE, message="Use digits, spaces and + ( ) - only, like +44 20 7946 0958."),
        _enough_digits,
    ]


def in_plausible_range(form, field) -> None:
    """A date someone could mean: a year like 0026 is a typo for 2026, not a plan."""
    if field.data is not None and not EARLIEST <= field.data <= LATEST:
        raise ValidationError("That date looks mistyped. Check the year.")


class DeliverableEmail(Email):
    """``Email`` that refuses what ``app.mail`` cannot send: SMTPUTF8 is not supported.

    An accented domain is fine (it goes out as IDNA); accents before the @ are
    not, and get a message that says so rather than "doesn't look right".
    """

    def __init__(self, message: str | None = None):
        super().__init__(message, allow_smtputf8=False)

    def __call__(self, form, field) -> None:
        local, at, _ = (field.data or "").rpartition("@")
        if at and local and not local.isascii():
            raise ValidationError(ACCENTED_LOCAL_PART)
        super().__call__(form, field)
