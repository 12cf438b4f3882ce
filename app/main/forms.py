"""The professional's own settings."""

from flask_wtf import FlaskForm
from wtforms import Form, FormField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms_common import strip
from ..models import ContactKind

WHOLE_NUMBER = "Enter a whole number, like 90."


class SettingsForm(FlaskForm):
    """How the professional is named, what referrers can say, and the rhythm of the ask."""

    display_name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name as clients know it."), Length(max=120)],
        filters=[strip],
    )
    business_name = StringField("Business name", validators=[Length(max=160)], filters=[strip])
    value_proposition = StringField(
        "What to say about you, in one line",
        validators=[Length(max=280, message="Keep it to one line (280 characters at most).")],
        filters=[strip],
    )
    blurb = TextAreaField(
        "A short note referrers can forward",
        validators=[Length(max=2000, message="Keep it short: 2,000 characters at most.")],
        filters=[strip],
    )
    ask_count = IntegerField(
        "How many names to ask for",
        invalid_value_message=WHOLE_NUMBER,
        validators=[
            InputRequired("Enter a number from 1 to 5."),
            NumberRange(1, 5, "Enter a number from 1 to 5."),
        ],
    )
    first_touchpoint_days = IntegerField(
        "First touchpoint, in days after delivery",
        invalid_value_message=WHOLE_NUMBER,
        validators=[
            InputRequired("Enter a number of days from 7 to 365."),
            NumberRange(7, 365, "Enter a number of days from 7 to 365."),
        ],
    )
    attention_days = IntegerField(
        "A referral needs attention after this many days without a step",
        invalid_value_message=WHOLE_NUMBER,
        validators=[
            InputRequired("Enter a number of days from 1 to 90."),
            NumberRange(1, 90, "Enter a number of days from 1 to 90."),
        ],
    )
    rhythm_days = IntegerField(
        "How often you aim to be in touch, in days",
        invalid_value_message=WHOLE_NUMBER,
        validators=[
            Optional(),
            NumberRange(7, 365, "Enter a number of days from 7 to 365, or leave it blank."),
        ],
    )


FRAMING_MAX, LINE_MAX, BLURB_MAX = 600, 280, 2000


class KindWordsForm(Form):
    """The professional's own words for one kind of source; empty means "use the default".

    A plain ``Form`` (no CSRF of its own): it is one fieldset of ``WordingForm``.
    """

    ask_framing = TextAreaField(
        "How the ask is framed",
        validators=[
            Length(max=FRAMING_MAX, message="Keep it to a few sentences (600 characters at most).")
        ],
        filters=[strip],
    )
    value_proposition = StringField(
        "What to say about you, in one line",
        validators=[Length(max=LINE_MAX, message="Keep it to one line (280 characters at most).")],
        filters=[strip],
    )
    blurb = TextAreaField(
        "A short note they can forward",
        validators=[Length(max=BLURB_MAX, message="Keep it short: 2,000 characters at most.")],
        filters=[strip],
    )


class WordingForm(FlaskForm):
    """Every kind of source's words on one page, saved together (never half-saved).

    One fieldset per ``ContactKind``, named by its value: ``vendor-ask_framing``...
    """

    def kinds(self):
        """(kind, its fieldset's form) in the order of ``ContactKind``."""
        return [(kind, self[kind.value].form) for kind in ContactKind]


for _kind in ContactKind:
    setattr(WordingForm, _kind.value, FormField(KindWordsForm, label=_kind.label))
