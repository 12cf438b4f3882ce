"""The contact form: who a referral source is, and what was agreed with them."""

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice, enum_choices, enum_coerce
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from ..forms_common import DeliverableEmail, in_plausible_range, phone_validators, strip
from ..models import ContactKind, UpdatePreference

DATE_FORMAT_HELP = "Enter a date like 2027-02-21."
WHOLE_NUMBER = "Enter a whole number, like 2."

# The contact's rhythm, as stored in Contact.rhythm_days.
RHYTHM_DEFAULT, RHYTHM_DAYS, RHYTHM_NONE = "default", "days", "none"
RHYTHM_MIN, RHYTHM_MAX = 7, 365
RHYTHM_RANGE_WORDS = f"from {RHYTHM_MIN} to {RHYTHM_MAX}"
RHYTHM_RANGE = f"Enter a number of days {RHYTHM_RANGE_WORDS}."


def default_rhythm_label(user_rhythm_days: int | None) -> str:
    if user_rhythm_days:
        return f"Your default (every {user_rhythm_days} days)"
    return "Your default (no regular touchpoints)"


def _only_with_a_number_of_days(form, field) -> None:
    """The number counts only when "every N days" is chosen; otherwise it is ignored."""
    if form.rhythm_choice.data != RHYTHM_DAYS:
        field.errors[:] = []
        raise StopValidation()
    if not (field.raw_data or [""])[0].strip():
        field.errors[:] = []
        raise StopValidation(f"Enter how many days between touchpoints, {RHYTHM_RANGE_WORDS}.")
    if field.process_errors:
        raise StopValidation()  # "Enter a whole number of days": already said


class ContactForm(FlaskForm):
    """A referral source. Only the name is required: details often come later."""

    name = StringField(
        "Name",
        validators=[DataRequired("Enter the contact's name."), Length(max=160)],
        filters=[strip],
    )
    email = EmailField(
        "Email address",
        validators=[
            Optional(),
            DeliverableEmail("Enter an email address like name@example.com."),
            Length(max=254),
        ],
        filters=[strip],
    )
    phone = TelField(
        "Phone",
        validators=phone_validators(),
        filters=[strip],
    )
    kind = SelectField(
        "Kind of contact",
        choices=enum_choices(ContactKind, label=lambda kind: kind.label),
        coerce=enum_coerce(ContactKind),
        default=ContactKind.CLIENT,
    )
    category = StringField(
        "Occupation or category",
        validators=[Length(max=120)],
        filters=[strip],
    )
    engagement_start = DateField(
        "Engagement started",
        validators=[Optional(), in_plausible_range],
        invalid_value_message=DATE_FORMAT_HELP,
    )
    delivered_on = DateField(
        "Work delivered",
        validators=[Optional(), in_plausible_range],
        invalid_value_message=DATE_FORMAT_HELP,
    )
    terms_what_counts = TextAreaField(
        "What counts as a referral",
        validators=[Length(max=2000)],
        filters=[strip],
    )
    terms_how_many = IntegerField(
        "Introductions you hope for",
        validators=[
            Optional(),
            NumberRange(1, 50, "Enter a number from 1 to 50, or leave it blank."),
        ],
        invalid_value_message=WHOLE_NUMBER,
    )
    terms_in_return = TextAreaField(
        "What you give in return",
        validators=[Length(max=2000)],
        filters=[strip],
    )
    update_preference = SelectField(
        "Updates about the people they introduce",
        choices=enum_choices(UpdatePreference, label=lambda pref: pref.label),
        coerce=enum_coerce(UpdatePreference),
        default=UpdatePreference.EVERY_STEP,
    )
    rhythm_choice = RadioField(
        "Regular touchpoints",
        choices=[
            SelectChoice(RHYTHM_DEFAULT, default_rhythm_label(None)),  # relabelled in __init__
            SelectChoice(RHYTHM_DAYS, "A number of days, just for them"),
            SelectChoice(RHYTHM_NONE, "No regular touchpoints"),
        ],
        default=RHYTHM_DEFAULT,
        validate_choice=True,
    )
    rhythm_days = IntegerField(
        "Days between touchpoints",
        validators=[
            _only_with_a_number_of_days,
            NumberRange(RHYTHM_MIN, RHYTHM_MAX, RHYTHM_RANGE),
        ],
        invalid_value_message="Enter a whole number of days, like 91.",
    )
    notes = TextAreaField("Notes", validators=[Length(max=10_000)], filters=[strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user_days = current_user.rhythm_days if current_user.is_authenticated else None
        # A new list: the class's choices are shared by every form.
        self.rhythm_choice.choices = [
            SelectChoice(RHYTHM_DEFAULT, default_rhythm_label(user_days)),
            *self.rhythm_choice.choices[1:],
        ]
        obj = kwargs.get("obj")
        if not self.is_submitted():
            if obj is not None:
                # The saved rhythm_days as the choice it stands for.
                days = obj.rhythm_days
                if days is None:
                    self.rhythm_choice.data = RHYTHM_DEFAULT
                elif days == 0:
                    self.rhythm_choice.data, self.rhythm_days.data = RHYTHM_NONE, None
                else:
                    self.rhythm_choice.data = RHYTHM_DAYS
        elif not self.rhythm_choice.raw_data and (self.rhythm_days.raw_data or [""])[0].strip():
            # A form posted without the choice (a script, an old page) but with a
            # number of days means that number.
            self.rhythm_choice.data = RHYTHM_DAYS

    def stored_rhythm_days(self) -> int | None:
        """Contact.rhythm_days for the choice: None (the default), N days, or 0 (none)."""
        if self.rhythm_choice.data == RHYTHM_DAYS:
            return self.rhythm_days.data
        return 0 if self.rhythm_choice.data == RHYTHM_NONE else None

    def populate_obj(self, obj) -> None:
        for name, field in self._fields.items():
            if name not in ("rhythm_choice", "rhythm_days"):
                field.populate_obj(obj, name)
        obj.rhythm_days = self.stored_rhythm_days()

    def validate_delivered_on(self, field) -> None:
        start = self.engagement_start.data
        if field.data and start and field.data < start:
            raise ValidationError("The delivery date is before the engagement started.")
