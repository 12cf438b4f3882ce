"""``flask users ...``: manage professionals' accounts from the command line."""

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User
from .forms import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, normalise_email
from .routes import find_user

# AppGroup runs every command inside an application context.
users_cli = AppGroup("users", help="Manage professionals' accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name, as clients will see it.")
@click.option("--business", default="", help="Business name.")
@click.option(
    "--password",
    help=f"At least {PASSWORD_MIN_LENGTH} characters; asked for (hidden) when not given.",
)
def create_user(email: str, name: str, business: str, password: str | None) -> None:
    """Create a professional's account that signs in with EMAIL."""
    try:
        email = normalise_email(
            validate_email(email, check_deliverability=False, allow_smtputf8=False).normalized
        )
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    if find_user(email) is not None:
        raise click.ClickException(f"An account for {email} already exists.")
    if password is None:
        # Asked only now, so nobody types a password for an account that cannot be made.
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise click.BadParameter(
            f"use at least {PASSWORD_MIN_LENGTH} characters (and at most {PASSWORD_MAX_LENGTH}).",
            param_hint="--password",
        )

    user = User(email=email, display_name=name.strip(), business_name=business.strip())
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # created by someone else a moment ago
        db.session.rollback()
        raise click.ClickException(f"An account for {email} already exists.") from None
    click.echo(f"Created the account for {email}. Sign in at /login.")
