"""The referrer's form: one small form per person, and the page around them.

Rows are small forms of their own with a ``people-<i>-`` prefix rather than a
FieldList: FieldList rendering was measured far too slow for a page every
referrer opens, and plain prefixes keep the no-JavaScript add and remove simple.
They are ``fields.PlainForm``s: WTForms' validators and rules for reading a post,
without the cost of binding WTForms fields (see fields.py).

Besides the people rows: one ``NamedAskForm`` per known connection
(``named-<connection id>-``: "Would you be comfortable introducing ...?"), and,
when the touchpoint asks for them, a few ``VendorForm`` rows (``vendors-<i>-``)
for the other vendors who help run a client's business. Friends and family get
``ShortPersonForm`` rows: name, one way to reach them, what they need.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice, enum_choices, enum_coerce
from wtforms.validators import (
    DataRequired,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from ..forms_common import DeliverableEmail, phone_validators, strip
from ..models import Connection, ConnectionStatus, IntroMethod, UpdatePreference
from .fields import Check, PlainForm, Radio, Text
from .wording import named_question

PERSON_PREFIX = "people-{}-"
_PERSON_KEY = re.compile(r"^people-(\d{1,4})-(\w+)$")
_SUBMISSION_KEY = re.compile(r"^[0-9a-f]{32}$")
NAMED_PREFIX = "named-{}-"
VENDOR_PREFIX = "vendors-{}-"
# Fields checked one at a time as the referrer leaves them ("reach": the short form's
# single "email or phone" field).
INLINE_FIELDS = frozenset({"name", "email", "phone", "reach", "how_known", "need", "consent"})
BAD_EMAIL = "That email address doesn't look right. Please check it."


def reach_message(professional: str) -> str:
    return f"Give an email or a phone number so {professional} can reach them."


def _one_way_to_reach(form, field) -> None:
    """An "email or phone" field: an address when it has an @, else a phone number."""
    value = field.data or ""
    if not value:
        raise StopValidation(reach_message(form.professional))
    if "@" in value:
        if len(value) > 254:
            raise ValidationError(BAD_EMAIL)
        DeliverableEmail(BAD_EMAIL)(form, field)
        return
    for validator in phone_validators():
        if not isinstance(validator, Optional):
            validator(form, field)


def split_reach(value: str | None) -> tuple[str, str]:
    """(email, phone) from an "email or phone" field."""
    value = (value or "").strip()
    return (value, "") if "@" in value else ("", value)


class PersonForm(PlainForm):
    """One person the referrer names: who, how to reach them, and how to be introduced."""

    short = False
    # One of the shared empty rows (blank_person), which blank_rows renders once.
    is_shared_blank = False
    # Fields that say someone started describing a person (the radios always have a value).
    typed_fields: tuple[str, ...] = ("name", "email", "phone", "how_known", "need")

    name = Text(
        "Their name",
        [DataRequired("Please give their name."), Length(max=160)],
        filters=[strip],
    )
    email = Text(
        "Email",
        [
            Optional(),
            Length(max=254),
            DeliverableEmail("That email address doesn't look right. Please check it."),
        ],
        filters=[strip],
    )
    phone = Text("Phone", phone_validators(), filters=[strip])
    how_known = Text("How do you know them?", [Optional(), Length(max=500)])
    need = Text("What do they need, or what did they say?", [Optional(), Length(max=2000)])
    intro_method = Radio(
        "How should the introduction happen?",
        choices=enum_choices(IntroMethod, label=lambda method: method.label),
        coerce=enum_coerce(IntroMethod),
        default=IntroMethod.MENTION_REFERRER,
    )
    consent = Check(
        "They're happy to be contacted about this",
        [DataRequired("Please confirm they're happy to be contacted.")],
    )

    def __init__(self, formdata=None, *, prefix: str = "", professional: str = ""):
        super().__init__(formdata, prefix)
        self.professional = professional or "we"
        # The "email or phone" rule belongs to neither field alone.
        self.reach_errors: list[str] = []

    @property
    def is_blank(self) -> bool:
        """Nothing typed and nothing ticked: an unused row, ignored on submit."""
        return not self.consent.data and not any(
            (getattr(self, name).data or "").strip() for name in self.typed_fields
        )

    def validate(self) -> bool:
        valid = super().validate()
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


class ShortPersonForm(PersonForm):
    """The warmer, shorter row for friends and family: name, one way to reach them, and
    what they need. How they know them is left out, and the professional gets in touch
    mentioning the referrer (the least work for a friend doing a favour)."""

    short = True
    typed_fields = ("name", "reach", "need")
    email = None
    phone = None
    how_known = None
    intro_method = None
    reach = Text("Their email or phone number", [_one_way_to_reach], filters=[strip])

    def validate(self) -> bool:
        self.reach_errors = []
        return PlainForm.validate(self)

    def error_list(self) -> list[tuple[str, str]]:
        pairs = []
        for field in (self.name, self.reach, self.need):
            pairs += [(field.id, message) for message in field.errors[:1]]
        pairs += [(self.consent.id, message) for message in self.consent.errors[:1]]
        return pairs

    def referral_fields(self) -> dict:
        email, phone = split_reach(self.reach.data)
        return {
            "name": self.name.data,
            "email": email,
            "phone": phone,
            "how_known": "",
            "need": (self.need.data or "").strip(),
            "intro_method": IntroMethod.MENTION_REFERRER,
        }


def person_class(short: bool) -> type[PersonForm]:
    return ShortPersonForm if short else PersonForm


# The three answers to a named question, as stored on the connection.
NAMED_ANSWERS = (
    (ConnectionStatus.YES, "Yes"),
    (ConnectionStatus.NOT_NOW, "Not now"),
    (ConnectionStatus.DONT_KNOW_WELL, "I don't know them well"),
)
NAMED_ANSWER_MESSAGE = "Choose yes, not now, or that you don't know them well."


class NamedAskForm(PlainForm):
    """One named question about a known connection. Leaving it unanswered is fine."""

    is_blank = False  # see BlankAsk

    answer = Radio(
        "Your answer",
        choices=[SelectChoice(status.value, label) for status, label in NAMED_ANSWERS],
        validate_choice=False,  # checked in validate(): no answer is allowed
    )
    intro_method = Radio(
        "How should the introduction happen?",
        choices=enum_choices(IntroMethod, label=lambda method: method.label),
        coerce=enum_coerce(IntroMethod),
        default=IntroMethod.REFERRER_INTRODUCES,
    )
    need = Text("What might they need? (optional)", [Optional(), Length(max=2000)])

    def __init__(
        self, formdata=None, *, connection: Connection, professional: str = "", short=False
    ):
        super().__init__(formdata, NAMED_PREFIX.format(connection.id))
        self.connection = connection
        self.professional = professional or "we"
        # Friends and family are not asked how: a yes means they introduce.
        self.short = short
        self.question = named_question(self.professional, connection.name, connection.organisation)

    @property
    def status(self) -> ConnectionStatus | None:
        """The answer given, or None (not answered, or not one of the three)."""
        answers = {status.value: status for status, _ in NAMED_ANSWERS}
        return answers.get(self.answer.data or "")

    @property
    def answered(self) -> bool:
        return bool(self.answer.data)

    @property
    def method(self) -> IntroMethod:
        return IntroMethod.REFERRER_INTRODUCES if self.short else self.intro_method.data

    def validate(self) -> bool:
        super().validate()
        if self.status != ConnectionStatus.YES:
            # How and what they need only matter for a yes.
            self.intro_method.errors = []
            self.need.errors = []
        if self.short:
            self.intro_method.errors = []
        self.answer.errors = [NAMED_ANSWER_MESSAGE] if self.answered and not self.status else []
        return not any(field.errors for field in self)

    def error_list(self) -> list[tuple[str, str]]:
        """(field id, message) pairs for the summary at the top of the page."""
        pairs = [(f"{self.answer.id}-0", message) for message in self.answer.errors[:1]]
        pairs += [(f"{self.intro_method.id}-0", m) for m in self.intro_method.errors[:1]]
        pairs += [(self.need.id, message) for message in self.need.errors[:1]]
        return pairs

    def referral_fields(self) -> dict:
        """The Referral a yes becomes: who, from the connection; how, from the answer."""
        connection = self.connection
        organisation, how = connection.organisation.strip(), connection.how_known.strip()
        # Referral has no organisation: it leads "how they know them".
        known = f"At {organisation}. {how}" if organisation and how else how
        if organisation and not how:
            known = f"At {organisation}."
        return {
            "name": connection.name,
            "email": "",
            "phone": "",
            "how_known": known,
            "need": (self.need.data or "").strip(),
            "intro_method": self.method,
            "connection_id": connection.id,
        }


class VendorForm(PlainForm):
    """Another vendor who helps run the client's business (a new source, not a client)."""

    typed_fields = ("name", "company", "what", "reach")

    name = Text(
        "Their name",
        [DataRequired("Please give their name."), Length(max=160)],
        filters=[strip],
    )
    company = Text("Company", [Optional(), Length(max=160)], filters=[strip])
    what = Text("What they do for you", [Optional(), Length(max=500)], filters=[strip])
    reach = Text("Their email or phone number", [_one_way_to_reach], filters=[strip])
    consent = Check(
        "They're happy to be contacted about this",
        [DataRequired("Please confirm they're happy to be contacted.")],
    )

    def __init__(self, formdata=None, *, prefix: str = "", professional: str = ""):
        super().__init__(formdata, prefix)
        self.professional = professional or "we"

    @property
    def is_blank(self) -> bool:
        return not self.consent.data and not any(
            (getattr(self, name).data or "").strip() for name in self.typed_fields
        )

    def error_list(self) -> list[tuple[str, str]]:
        pairs = []
        for field in (self.name, self.company, self.what, self.reach, self.consent):
            pairs += [(field.id, message) for message in field.errors[:1]]
        return pairs

    def referral_fields(self) -> dict:
        """A vendor is saved as a referral marked ``is_vendor``: the company leads "how
        they know them" and what they do is the need (Referral has no such columns)."""
        email, phone = split_reach(self.reach.data)
        return {
            "name": self.name.data,
            "email": email,
            "phone": phone,
            "how_known": self.company.data or "",
            "need": self.what.data or "",
            "intro_method": IntroMethod.MENTION_REFERRER,
            "is_vendor": True,
        }


class LinkForm(FlaskForm):
    """A form on a referrer's page. Its CSRF token is the link's, checked before
    every view of the blueprint (``capture/__init__.py``), so the form has none."""

    class Meta:
        csrf = False


class ReferralForm(PlainForm):
    """The page-level fields: idempotency key and how the referrer wants to hear back.

    Like every form of the referrer's page it has no CSRF field: the link's token
    is checked before every view of the blueprint (``capture/__init__.py``).
    """

    submission_key = Text(validators=[Regexp(_SUBMISSION_KEY)])
    update_preference = Radio(
        "How would you like to hear how it goes?",
        choices=enum_choices(UpdatePreference, label=lambda preference: preference.label),
        coerce=enum_coerce(UpdatePreference),
    )

    def ensure_submission_key(self) -> None:
        """A fresh key when the form is first shown; kept as it is re-rendered."""
        if not _SUBMISSION_KEY.match(self.submission_key.data or ""):
            self.submission_key.data = uuid.uuid4().hex


def blank_referral_form(preference: UpdatePreference) -> ReferralForm:
    """The page-level fields as the form page first shows them: a fresh submission
    key and the referrer's current preference."""
    return ReferralForm(submission_key=uuid.uuid4().hex, update_preference=preference)


def person_forms(
    formdata: MultiDict | None,
    *,
    professional: str,
    limit: int,
    drop: int | None = None,
    short: bool = False,
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
    form_class = person_class(short)
    return [
        form_class(renumbered, prefix=PERSON_PREFIX.format(n), professional=professional)
        for n in range(len(kept))
    ]


def blank_person(index: int, short: bool = False) -> PersonForm:
    """A new, empty row, to show (the form page has one to three of them).

    Shared: one instance per kind of row and index, made once per process, since
    building a form's fields cost more than rendering them. Nothing changes or
    validates it: the templates only read it.
    """
    return _shared_blank_person(bool(short), index)


@functools.lru_cache(maxsize=64)
def _shared_blank_person(short: bool, index: int) -> PersonForm:
    row = person_class(short)(prefix=PERSON_PREFIX.format(index))
    row.validate = _not_for_validation  # a posted row is always a form of its own
    row.is_shared_blank = True
    return row


def _not_for_validation(*args, **kwargs):
    raise RuntimeError("a shared blank row is only for showing; read the posted rows instead")


@dataclass(frozen=True)
class BlankAsk:
    """A named question as the form first shows it, nothing answered: what
    ``blank_rows.blank_ask`` needs, without building a form."""

    connection: Connection
    question: str
    is_blank = True


def named_asks(
    formdata: MultiDict | None,
    connections: list[Connection],
    *,
    professional: str,
    short: bool = False,
) -> list[NamedAskForm] | list[BlankAsk]:
    """One question per connection, read from ``formdata`` (None: a fresh, unanswered form)."""
    if formdata is None:
        return [
            BlankAsk(c, named_question(professional or "we", c.name, c.organisation))
            for c in connections
        ]
    return [
        NamedAskForm(formdata, connection=connection, professional=professional, short=short)
        for connection in connections
    ]


_NAMED_ANSWER_KEY = re.compile(r"^named-(\d{1,19})-answer$")


def answered_connection_ids(formdata: MultiDict) -> list[int]:
    """The connections a posted form carries an answer for."""
    return [int(match.group(1)) for key in formdata if (match := _NAMED_ANSWER_KEY.match(key))]


def vendor_forms(formdata: MultiDict | None, *, professional: str, count: int) -> list[VendorForm]:
    """The fixed vendor rows, read from ``formdata`` (None: empty rows)."""
    vendors = []
    for n in range(count):
        vendor = VendorForm(formdata, prefix=VENDOR_PREFIX.format(n), professional=professional)
        vendor.index = n
        vendor.legend = ["Someone who helps you", "Someone else who helps you"][min(n, 1)]
        if n > 1:
            vendor.legend += f" ({n + 1})"
        vendors.append(vendor)
    return vendors


def field_from_trigger(name: str | None) -> tuple[int, str] | None:
    """``people-2-email`` → (2, "email"), for inline validation of one field."""
    match = _PERSON_KEY.match(name or "")
    if not match or match.group(2) not in INLINE_FIELDS:
        return None
    return int(match.group(1)), match.group(2)
