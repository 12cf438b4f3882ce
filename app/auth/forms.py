"""Forms for creating the first account and signing in."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from ..forms_common import DeliverableEmail

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256  # hashing a megabyte of "password" is a cheap denial of service


def normalise_email(value: str | None) -> str:
    """Emails are stored and looked up trimmed and lower-cased."""
    return (value or "").strip().lower()


class SetupForm(FlaskForm):
    """The professional's own account, created on the first run."""

    display_name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name as clients know it."), Length(max=120)],
    )
    business_name = StringField("Business name", validators=[Length(max=160)])
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter your email address."),
            DeliverableEmail("Enter an email address like name@example.com."),
            Length(max=254),
        ],
        filters=[normalise_email],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Choose a password."),
            Length(
                min=PASSWORD_MIN_LENGTH,
                max=PASSWORD_MAX_LENGTH,
                message=f"Use at least {PASSWORD_MIN_LENGTH} characters "
                f"(and at most {PASSWORD_MAX_LENGTH}).",
            ),
        ],
    )
    confirm = PasswordField(
        "Password again",
        validators=[
            InputRequired("Type the password a second time."),
            EqualTo("password", "The two passwords are not the same."),
        ],
    )


class LoginForm(FlaskForm):
    """Email and password. The email's format is not checked: any mistake gets one message."""

    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        filters=[normalise_email],
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=PASSWORD_MAX_LENGTH)],
    )
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()
