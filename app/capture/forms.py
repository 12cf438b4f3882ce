"""The referrer's form: one small WTForms form per person, and the page around them.

Rows are plain ``Form`` instances with a ``people-<i>-`` prefix rather than a
FieldList: FieldList rendering was measured far too slow for a page every
referrer opens, and plain prefixes keep the no-JavaScript add and remove simple.
"""

from __future__ import annotations

import re
import uuid

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields import EmailField, TelField
from wtforms.fields.choices import enum_choices, enum_coerce
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..forms_common import DeliverableEmail, phone_validators, strip
from ..models import IntroMethod, UpdatePreference

PERSON_PREFIX = "people-{}-"
_PERSON_KEY = re.compile(r"^people-(\d{1,4})-(\w+)$")
_SUBMISSION_KEY = re.compile(r"^[0-9a-f]{32}$")
# Fields that say someone started describing a person (the radios always have a value).
_TYPED_FIELDS = ("name", "email", "phone", "how_known", "need")
# Fields checked one at a time as the referrer leaves them.
INLINE_FIELDS = frozenset({"name", "email", "phone", "how_known", "need", "consent"})


class PersonForm(Form):
    """One person the referrer names: who, how to reach them, and how to be introduced."""

    name = StringField(
        "Their name",
        validators=[DataRequired("Please give their name."), Length(max=160)],
        filters=[strip],
    )
    email = EmailField(
        "Email",
        validators=[
            Optional(),
            Length(max=254),
            DeliverableEmail("That email address doesn't look right. Please check it."),
        ],
        filters=[strip],
    )
    phone = TelField(
        "Phone",
        validators=phone_validators(),
        filters=[strip],
    )
    how_known = StringField("How do you know them?", validators=[Optional(), Length(max=500)])
    need = TextAreaField(
        "What do they need, or what did they say?", validators=[Optional(), Length(max=2000)]
    )
    intro_method = RadioField(
        "How should the introduction happen?",
        choices=enum_choices(IntroMethod, label=lambda method: method.label),
        coerce=enum_coerce(IntroMethod),
        default=IntroMethod.MENTION_REFERRER,
        validate_choice=True,
    )
    consent = BooleanField(
        "They're happy to be contacted about this",
        validators=[DataRequired("Please confirm they're happy to be contacted.")],
    )

    def __init__(self, *args, professional: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.professional = professional or "we"
        # The "email or phone" rule belongs to neither field alone.
        self.reach_errors: list[str] = []

    @property
    def is_blank(self) -> bool:
        """Nothing typed and nothing ticked: an unused row, ignored on submit."""
        return not self.consent.data and not any(
            (getattr(self, name).data or "").strip() for name in _TYPED_FIELDS
        )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        self.reach_errors = []
        if not self.email.data and not self.phone.data:
            self.reach_errors.append(
                f"Give an email or a phone number so {self.professional} can reach them."
            )
            valid = False
        return valid

    def error_list(self) -> list[tuple[str, str]]:
        """(field id, message) pairs in the order the fields appear, for the summary."""
        pairs = [(self.name.id, message) for message in self.name.errors[:1]]
        pairs += [(self.email.id, message) for message in self.reach_errors[:1]]
        for field in (self.email, self.phone, self.how_known, self.need):
            pairs += [(field.id, message) for message in field.errors[:1]]
        # A group of radios is reached through its first radio.
        pairs += [(f"{self.intro_method.id}-0", m) for m in self.intro_method.errors[:1]]
        pairs += [(self.consent.id, message) for message in self.consent.errors[:1]]
        return pairs

    def referral_fields(self) -> dict:
        """The values a Referral row is made of."""
        return {
            "name": self.name.data,
            "email": self.email.data or "",
            "phone": self.phone.data or "",
            "how_known": (self.how_known.data or "").strip(),
            "need": (self.need.data or "").strip(),
            "intro_method": self.intro_method.data,
        }


class ReferralForm(FlaskForm):
    """The page-level fields: idempotency key and how the referrer wants to hear back."""

    submission_key = HiddenField(validators=[Regexp(_SUBMISSION_KEY)])
    update_preference = RadioField(
        "How would you like to hear how it goes?",
        choices=enum_choices(UpdatePreference, label=lambda preference: preference.label),
        coerce=enum_coerce(UpdatePreference),
        validate_choice=True,
    )

    def ensure_submission_key(self) -> None:
        """A fresh key when the form is first shown; kept as it is re-rendered."""
        if not _SUBMISSION_KEY.match(self.submission_key.data or ""):
            self.submission_key.data = uuid.uuid4().hex


def person_forms(
    formdata: MultiDict | None,
    *,
    professional: str,
    limit: int,
    drop: int | None = None,
) -> list[PersonForm]:
    """The rows posted in ``formdata``, renumbered 0..n-1 in their order.

    ``drop`` is the posted index of a row to leave out (the referrer pressed its
    Remove). Rows past ``limit`` are ignored.
    """
    if formdata is None:
        return []
    indices = sorted({int(match.group(1)) for key in formdata if (match := _PERSON_KEY.match(key))})
    kept = [index for index in indices if index != drop][:limit]
    renumbered = MultiDict()
    for new, old in enumerate(kept):
        old_prefix, new_prefix = PERSON_PREFIX.format(old), PERSON_PREFIX.format(new)
        for key, values in formdata.lists():
            if key.startswith(old_prefix):
                renumbered.setlist(new_prefix + key[len(old_prefix) :], values)
    return [
        PersonForm(renumbered, prefix=PERSON_PREFIX.format(n), professional=professional)
        for n in range(len(kept))
    ]


def blank_person(index: int, professional: str) -> PersonForm:
    """A new, empty row."""
    return PersonForm(prefix=PERSON_PREFIX.format(index), professional=professional)


def field_from_trigger(name: str | None) -> tuple[int, str] | None:
    """``people-2-email`` → (2, "email"), for inline validation of one field."""
    match = _PERSON_KEY.match(name or "")
    if not match or match.group(2) not in INLINE_FIELDS:
        return None
    return int(match.group(1)), match.group(2)
