"""The schema as the migrations build it: the path production takes."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import User
from tests.conftest import DATABASE_URL, base_config


@pytest.fixture
def empty_database_url(tmp_path):
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if not DATABASE_URL or not DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    name = f"referloop_migrations_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        make_url(DATABASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_migrations_upgrade_downgrade_upgrade_on_a_populated_database(empty_database_url, tmp_path):
    from tests.factories import make_contact, make_referral, make_touchpoint, make_user

    app = create_app(base_config(empty_database_url), str(tmp_path))
    with app.app_context():
        upgrade()
        user = make_user()
        contact = make_contact(user, name="Ada Lovelace")
        make_referral(contact, make_touchpoint(contact))

        downgrade(revision="base")
        tables = sa.inspect(db.engine).get_table_names()
        assert set(tables) <= {"alembic_version"}

        upgrade()
        make_user(email="again@example.com")
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        assert users == 1
        db.session.remove()
        db.engine.dispose()


# SQLite cannot reflect expression indexes (the lower(name) ones of migration 0004), so
# SQLAlchemy and Alembic say they skip them there; PostgreSQL compares them too.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
)
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning"
)
def test_migrations_match_the_models(empty_database_url, tmp_path):
    """A model change without its migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = create_app(base_config(empty_database_url), str(tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []


def test_the_search_text_of_existing_contacts_is_filled_in(empty_database_url, tmp_path):
    """Migration 0006 lowercases what the search reads for every contact already there."""
    app = create_app(base_config(empty_database_url), str(tmp_path))
    with app.app_context():
        upgrade(revision="0005")
        db.session.execute(
            sa.text(
                'INSERT INTO "user" (email, password_hash, display_name, business_name, '
                "value_proposition, blurb, ask_count, first_touchpoint_days, attention_days, "
                "failed_logins, created_at) "
                "VALUES ('pro@example.com', 'x', '', '', '', '', 2, 90, 14, 0, :now)"
            ),
            {"now": "2026-12-01 00:00:00"},
        )
        db.session.execute(
            sa.text(
                "INSERT INTO contact (user_id, name, email, phone, kind, category, "
                "terms_what_counts, terms_in_return, update_preference, notes, created_at, "
                "updated_at) VALUES (1, 'Élodie Brun', 'EB@Example.net', '', 'client', "
                "'Architect', '', '', 'every_step', '', :now, :now)"
            ),
            {"now": "2026-12-01 00:00:00"},
        )
        db.session.commit()
        upgrade()
        text = db.session.scalar(sa.text("SELECT search_text FROM contact"))
        db.session.rollback()
        assert text == "élodie brun\neb@example.net\narchitect"
        downgrade(revision="0005")
        db.session.remove()
        db.engine.dispose()
