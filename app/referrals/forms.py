"""The pipeline's forms: a status step, a private note, words for the referrer, and the
introduction the referrer will send."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import Field, SelectField, StringField, TextAreaField
from wtforms.fields.choices import enum_choices
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import TextInput

from ..capture.drafts import BODY_MAX, SUBJECT_MAX
from ..forms_common import strip
from ..models import ReferralStatus

NOTE_MAX = 5000
MESSAGE_MAX = 5000
# Referral.value_won is NUMERIC(12, 2).
VALUE_MAX = Decimal("9999999999.99")
# What people type around an amount: currency signs, thousands separators, spaces.
_MONEY_NOISE = re.compile(r"[\s,'£$€¥]|^[A-Za-z]{3}|[A-Za-z]{3}$")


def _status_or_none(value):
    """Coerce without raising, so a made-up value gets our own message, not WTForms'."""
    if isinstance(value, ReferralStatus) or value is None:
        return value
    try:
        return ReferralStatus(value)
    except ValueError:
        return None


class MoneyField(Field):
    """An optional amount of money, 0 or more, in whole units and cents: "12,500" or "£900.50"."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.raw = ""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw:
            return
        cleaned = _MONEY_NOISE.sub("", self.raw)
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise ValueError("Enter an amount like 12500 or 12500.50.") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("Enter an amount of 0 or more, like 12500.")
        if amount > VALUE_MAX:
            raise ValueError("That amount is too large to record.")
        self.data = amount.quantize(Decimal("0.01"))

    def _value(self):
        if self.raw:
            return self.raw
        return "" if self.data is None else f"{self.data:f}"


class StatusForm(FlaskForm):
    """Move a referral to another step, with an optional value and private note."""

    status = SelectField(
        "Status",
        choices=enum_choices(ReferralStatus, label=lambda status: status.label),
        coerce=_status_or_none,
        validate_choice=False,
    )
    value_won = MoneyField("Value of the business")
    note = TextAreaField(
        "Private note",
        validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters.")],
        filters=[strip],
    )

    def validate_status(self, field) -> None:
        if field.data is None:
            raise ValidationError("Choose one of the statuses in the list.")


class NoteForm(FlaskForm):
    """A private note in the referral's history."""

    note = TextAreaField(
        "Add a private note",
        validators=[
            DataRequired("Write the note first."),
            Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters."),
        ],
        filters=[strip],
    )


class UpdateForm(FlaskForm):
    """The words the referrer gets about one step."""

    message = TextAreaField(
        "Your update",
        validators=[
            DataRequired("Write the update first, or choose not to tell them this time."),
            Length(max=MESSAGE_MAX, message=f"Keep it under {MESSAGE_MAX} characters."),
        ],
        filters=[strip],
    )


class ThanksForm(FlaskForm):
    """A personal thank-you for one introduction."""

    message = TextAreaField(
        "Your thank-you note",
        validators=[
            DataRequired("Write a few words of thanks first."),
            Length(max=MESSAGE_MAX, message=f"Keep it under {MESSAGE_MAX} characters."),
        ],
        filters=[strip],
    )


class HeadsUpForm(FlaskForm):
    """Something went wrong: what happened, what was done, and a private note."""

    message = TextAreaField(
        "What happened, and what you did about it",
        validators=[
            DataRequired("Write what happened and what you did about it."),
            Length(max=MESSAGE_MAX, message=f"Keep it under {MESSAGE_MAX} characters."),
        ],
        filters=[strip],
    )
    note = TextAreaField(
        "Private note (optional)",
        validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters.")],
        filters=[strip],
    )


class IntroDraftForm(FlaskForm):
    """ "Draft an introduction for me to send": the email the referrer will send, in their voice."""

    subject = StringField(
        "Subject",
        validators=[
            DataRequired("Write a subject line."),
            Length(max=SUBJECT_MAX, message=f"Keep the subject under {SUBJECT_MAX} characters."),
        ],
        filters=[strip],
    )
    body = TextAreaField(
        "The introduction",
        validators=[
            DataRequired("Write the introduction first."),
            Length(max=BODY_MAX, message=f"Keep it under {BODY_MAX:,} characters."),
        ],
        filters=[strip],
    )
