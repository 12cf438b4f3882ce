"""The contact form: who a referral source is, and what was agreed with them."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import enum_choices, enum_coerce
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..forms_common import DeliverableEmail, in_plausible_range, phone_validators, strip
from ..models import ContactKind, UpdatePreference

DATE_FORMAT_HELP = "Enter a date like 2027-02-21."
WHOLE_NUMBER = "Enter a whole number, like 2."


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
    rhythm_days = IntegerField(
        "How often you aim to be in touch, in days",
        validators=[
            Optional(),
            NumberRange(7, 365, "Enter a number of days from 7 to 365, or leave it blank."),
        ],
        invalid_value_message="Enter a whole number of days, like 91.",
    )
    notes = TextAreaField("Notes", validators=[Length(max=10_000)], filters=[strip])

    def validate_delivered_on(self, field) -> None:
        start = self.engagement_start.data
        if field.data and start and field.data < start:
            raise ValidationError("The delivery date is before the engagement started.")
