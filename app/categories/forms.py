"""Forms for the most-wanted list: add a category, rename one."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length


def one_space(value):
    """Filter: "  tax   advisor " is "tax advisor": the words, not the spacing, name it."""
    return " ".join(value.split()) if isinstance(value, str) else value


class CategoryForm(FlaskForm):
    name = StringField(
        "Occupation",
        validators=[
            DataRequired("Name the occupation, such as accountant or attorney."),
            Length(max=120, message="Keep it short: 120 characters at most."),
        ],
        filters=[one_space],
    )


class RenameForm(CategoryForm):
    name = StringField(
        "New name",
        validators=[
            DataRequired("Name the occupation, such as accountant or attorney."),
            Length(max=120, message="Keep it short: 120 characters at most."),
        ],
        filters=[one_space],
    )
    contacts_too = BooleanField("Change it on the contacts in this category too", default=True)
