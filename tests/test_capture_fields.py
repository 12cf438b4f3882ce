"""The referrer's form rows (capture/fields.py) read and check a post as WTForms would.

Each row class is compared with a WTForms form built from the same declarations
(the same labels, validators, filters, choices and defaults), on posts chosen to
reach every rule: values missing, blank, too long, mistyped, not among the
choices, or not coercible, boxes ticked with odd values, repeated keys.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form, RadioField, StringField

from app.capture.fields import Check, PlainForm, Radio
from app.capture.forms import (
    NamedAskForm,
    PersonForm,
    ReferralForm,
    ShortPersonForm,
    VendorForm,
)
from app.models import ConnectionStatus


def wtforms_twin(plain: type[PlainForm]) -> type[Form]:
    """A WTForms form with the same fields as ``plain`` (its methods too, so the
    row-level rules such as "email or phone" run the same way)."""
    fields = {}
    for name, spec in plain._specs:
        options = {"validators": list(spec.validators), "default": spec.default}
        if isinstance(spec, Check):
            fields[name] = BooleanField(spec.label.text, **options)
        elif isinstance(spec, Radio):
            fields[name] = RadioField(
                spec.label.text,
                choices=spec.choices,
                coerce=spec.coerce,
                validate_choice=spec.validate_choice,
                **options,
            )
        else:
            fields[name] = StringField(spec.label.text, filters=list(spec.filters), **options)
    return type(f"Twin{plain.__name__}", (Form,), fields)


class Connection:
    id, name, organisation, how_known = 7, "David Jones", "Acme", ""


def build(kind, formdata, prefix: str):
    """A row of ``kind`` (a PlainForm or a WTForms twin) read from ``formdata``."""
    row = kind(formdata, prefix=prefix)
    row.professional = "Dana"
    row.reach_errors = []
    return row


LONG = "x" * 2001
POSTS = [
    {},
    {"name": "Ann", "email": "ann@example.com", "consent": "y"},
    {"name": "  Ann  ", "email": "  ann@example.com ", "phone": " ", "consent": "y"},
    {"name": " ", "email": "not an email", "phone": "12", "consent": "false"},
    {"name": "x" * 161, "phone": "+44 20 7946 0958", "how_known": LONG, "need": LONG},
    {"name": "Ann", "reach": "ann@", "intro_method": "bogus", "consent": ""},
    {"name": "Ann", "reach": "+44 20 7946 0958", "intro_method": "meet_together"},
    {"name": "Ann", "reach": "zoë@example.com", "intro_method": "", "consent": "on"},
    {"answer": "yes", "intro_method": "mention_referrer", "need": "A new accountant"},
    {"answer": "maybe", "intro_method": "nonsense", "need": LONG},
    {"company": "Acme", "what": "Bookkeeping", "reach": "sam@oneil.example", "consent": "y"},
    {"submission_key": "0" * 32, "update_preference": "milestones"},
    {"submission_key": "not a key", "update_preference": "sometimes"},
    {"update_preference": ""},
]


@pytest.mark.parametrize("post", POSTS)
@pytest.mark.parametrize(
    "plain", [PersonForm, ShortPersonForm, VendorForm, ReferralForm], ids=lambda c: c.__name__
)
def test_a_row_reads_and_checks_a_post_as_wtforms_does(app, plain, post):
    prefix = "people-0-" if plain is not ReferralForm else ""
    formdata = MultiDict({prefix + key: value for key, value in post.items()})
    formdata.add(prefix + "name", "a second value, never read")
    twin = wtforms_twin(plain)
    with app.test_request_context():
        ours, theirs = build(plain, formdata, prefix), build(twin, formdata, prefix)
        assert [field.name for field in ours] == [field.name for field in theirs]
        assert {f.name: f.data for f in ours} == {f.name: f.data for f in theirs}
        assert {f.name: f._value() for f in ours if not isinstance(f.spec, (Check, Radio))} == {
            f.name: f._value() for f in theirs if f.type == "StringField"
        }
        # Field by field (a row's own rules, such as PersonForm's "email or phone",
        # are the same code whichever fields it has).
        valid, twin_valid = PlainForm.validate(ours), Form.validate(theirs)
        assert {f.name: list(f.errors) for f in ours} == {f.name: list(f.errors) for f in theirs}
        assert valid == twin_valid


def test_a_named_question_reads_and_checks_as_wtforms_does(app):
    twin = wtforms_twin(NamedAskForm)
    for post in POSTS:
        formdata = MultiDict({f"named-7-{key}": value for key, value in post.items()})
        with app.test_request_context():
            ours = NamedAskForm(formdata, connection=Connection(), professional="Dana")
            theirs = twin(formdata, prefix="named-7-")
            assert {f.name: f.data for f in ours} == {f.name: f.data for f in theirs}
            ours_valid, theirs_valid = PlainForm.validate(ours), Form.validate(theirs)
            assert {f.name: list(f.errors) for f in ours} == {
                f.name: list(f.errors) for f in theirs
            }
            assert ours_valid == theirs_valid
    answered = NamedAskForm(
        MultiDict({"named-7-answer": "yes"}), connection=Connection(), professional="Dana"
    )
    assert answered.status is ConnectionStatus.YES and answered.validate()
