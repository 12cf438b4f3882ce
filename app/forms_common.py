"""Validators more than one blueprint's forms use, so every form checks the same way."""

from __future__ import annotations

from datetime import date

from wtforms.validators import Email, ValidationError

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

ACCENTED_LOCAL_PART = (
    "Use an address with plain letters before the @ (accents there can't be delivered)."
)


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
