"""The form for one known connection: someone the professional knows the contact knows."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms_common import strip

# Field ids must not clash with other forms on the contact page.
PREFIX = "connection-"


class ConnectionForm(FlaskForm):
    """Name, organisation, and how the contact knows them (the referrer reads the last one)."""

    class Meta:
        # CSRFProtect checks every POST already; a prefixed form would look for a
        # prefixed token that the shared csrf() macro does not send.
        csrf = False

    name = StringField(
        "Their name",
        validators=[DataRequired("Give the person's name."), Length(max=160)],
        filters=[strip],
    )
    organisation = StringField(
        "Organisation",
        validators=[Optional(), Length(max=160, message="Keep it under 160 characters.")],
        filters=[strip],
    )
    how_known = TextAreaField(
        "How they know each other",
        validators=[Optional(), Length(max=1000, message="Keep it under 1,000 characters.")],
        filters=[strip],
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", PREFIX)
        super().__init__(*args, **kwargs)

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "organisation": self.organisation.data or "",
            "how_known": self.how_known.data or "",
        }
