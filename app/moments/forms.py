"""The advocacy moments form: one row per moment (ticked, when, a note), one CSRF token."""

from __future__ import annotations

from typing import NamedTuple

from flask_wtf import FlaskForm
from wtforms import BooleanField, Form, FormField, TextAreaField
from wtforms.validators import Length, Optional

from ..forms_common import in_plausible_range, strip
from ..models import AdvocacyMoment, ContactMoment
from ..touchpoints.forms import DayField
from .queries import MOMENT_WHY

NOTE_MAX = 1000


class MomentRow(Form):
    """One moment. A plain ``Form``: the enclosing FlaskForm carries the CSRF token."""

    had = BooleanField("They've had this moment")
    happened_on = DayField("When (optional)", validators=[Optional(), in_plausible_range])
    note = TextAreaField(
        "Note (optional)",
        validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX:,} characters.")],
        filters=[strip],
    )


class Row(NamedTuple):
    moment: AdvocacyMoment
    form: MomentRow
    why: str


class MomentsForm(FlaskForm):
    """All five moments of one contact. Unticking a moment removes it, date and note too."""

    expectation = FormField(MomentRow)
    insight = FormField(MomentRow)
    vulnerability = FormField(MomentRow)
    future_pacing = FormField(MomentRow)
    permission = FormField(MomentRow)

    def __init__(self, *args, recorded: set[AdvocacyMoment] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded = recorded or set()

    def rows(self) -> list[Row]:
        return [
            Row(moment, self[moment.value].form, MOMENT_WHY[moment]) for moment in AdvocacyMoment
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for row in self.rows():
            fields = row.form
            typed = fields.happened_on.data is not None or bool(fields.note.data)
            # A date or note typed for a moment that isn't ticked (and wasn't recorded
            # before, when unticking means "remove") would be lost: say so instead.
            if not fields.had.data and typed and row.moment not in self.recorded:
                fields.had.errors = [
                    *fields.had.errors,
                    "Tick this to record the moment, or clear its date and note.",
                ]
                valid = False
        return valid


def moments_form(moments: list[ContactMoment]) -> MomentsForm:
    """The form as the contact's moments stand, for showing (reads no request data)."""
    data = {
        moment.moment.value: {
            "had": True,
            "happened_on": moment.happened_on,
            "note": moment.note,
        }
        for moment in moments
    }
    return MomentsForm(formdata=None, recorded={m.moment for m in moments}, **data)
