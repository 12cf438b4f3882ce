"""Forms for planning and editing a touchpoint."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from ..forms_common import in_plausible_range

ASK_MIN, ASK_MAX = 1, 5


class DayField(DateField):
    """A date input whose parse error says what to type."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("Enter a date like 2027-03-14 (year, month, day).") from exc


class TouchpointForm(FlaskForm):
    """A touchpoint added by hand: when, what value, how many names to ask for,
    whether Referloop emails it by itself on the due date, and (for a client) whether
    the form also asks for the other vendors who serve them."""

    due_on = DayField(
        "Due date",
        validators=[
            InputRequired(message="Choose the day this touchpoint is due."),
            in_plausible_range,
        ],
    )
    value_offered = TextAreaField(
        "What you're offering or delivered",
        validators=[Length(max=2000, message="Keep this under 2,000 characters.")],
    )
    ask_count = IntegerField(
        "How many people to ask for",
        validators=[
            InputRequired(message="Say how many people to ask for (1 to 5)."),
            NumberRange(min=ASK_MIN, max=ASK_MAX, message="Ask for between 1 and 5 people."),
        ],
    )
    auto_send = BooleanField("Email it automatically on the due date")
    # Shown for clients only; ignored for every other kind of contact.
    ask_for_vendors = BooleanField("Also ask them to introduce their other vendors")


class EditTouchpointForm(TouchpointForm):
    """The touchpoint's details and its message, with a way back to the suggested wording."""

    message = TextAreaField(
        "Message",
        validators=[Length(max=5000, message="Keep the message under 5,000 characters.")],
        render_kw={"rows": 12},
    )
    save = SubmitField("Save changes")
    suggest = SubmitField("Use suggested wording")

    def validate_message(self, field):
        # Asking for the suggested wording replaces the message, so an empty one is fine then.
        if not self.suggest.data and not (field.data or "").strip():
            raise ValidationError("Write the message, or use the suggested wording.")
