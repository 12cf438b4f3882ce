"""The read-only records of a link's rows say what the models say."""

import dataclasses

import pytest
import sqlalchemy as sa

from app.database import close_reading_connection, reading_connection
from app.extensions import db
from app.models import Contact, ContactKind, KindWording, Touchpoint, User
from app.records import link_records
from tests.factories import make_contact, make_touchpoint

PRIVATE = {"password_hash", "failed_logins", "locked_until", "notes", "search_text"}


def columns_of(instance) -> dict:
    return {
        attr.key: getattr(instance, attr.key)
        for attr in sa.inspect(type(instance)).column_attrs
        if attr.key not in PRIVATE
    }


def columns_of_record(record, model) -> dict:
    return {
        attr.key: getattr(record, attr.key)
        for attr in sa.inspect(model).column_attrs
        if attr.key not in PRIVATE
    }


@pytest.mark.parametrize("worded", [True, False])
def test_a_link_record_holds_every_column_and_name_the_models_do(user, worded):
    contact = make_contact(user, name="  Ana María Soto ", kind=ContactKind.VENDOR)
    touchpoint = make_touchpoint(contact, ask_for_vendors=True)
    touchpoint.mark_sent()
    if worded:
        db.session.add(
            KindWording(user_id=user.id, kind=ContactKind.VENDOR, ask_framing="Vendors: <b>")
        )
    # Another kind's wording must not be joined in.
    db.session.add(KindWording(user_id=user.id, kind=ContactKind.CLIENT, blurb="clients"))
    db.session.commit()
    db.session.expire_all()

    record = link_records(touchpoint.id)
    model = db.session.get(Touchpoint, touchpoint.id)
    assert columns_of_record(record, Touchpoint) == columns_of(model)
    assert columns_of_record(record.user, User) == columns_of(model.user)
    assert columns_of_record(record.contact, Contact) == columns_of(model.contact)
    assert record.contact.user is record.user
    assert (record.user.name, record.contact.first_name) == (model.user.name, "Ana")
    if worded:
        own = model.contact.own_wording
        assert columns_of_record(record.contact.own_wording, KindWording) == columns_of(own)
    else:
        assert model.contact.own_wording is None
        assert record.contact.own_wording is None


def test_a_link_record_never_holds_the_professionals_secrets_or_private_notes(user):
    contact = make_contact(user, notes="Private: going through a divorce")
    touchpoint = make_touchpoint(contact)
    db.session.commit()
    record = link_records(touchpoint.id)
    for name in ("password_hash", "failed_logins", "locked_until"):
        assert not hasattr(record.user, name)
    assert not hasattr(record.contact, "notes") and not hasattr(record.contact, "search_text")
    assert "divorce" not in repr(record)


def test_a_link_record_is_read_only_and_none_for_no_touchpoint(user):
    touchpoint = make_touchpoint(make_contact(user))
    db.session.commit()
    record = link_records(touchpoint.id)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.link_active = False
    assert link_records(touchpoint.id + 1000) is None


def test_a_link_is_read_without_a_transaction_on_a_connection_kept_between_requests(app, user):
    """No BEGIN and ROLLBACK around a link's reads: PostgreSQL in autocommit, SQLite
    with no BEGIN, on a connection of the engine's (the session is not even used).
    That connection is kept for the next request; a request that fails gives it
    back to the pool, and disposing of the engine closes it. The session's
    connections keep their transactions."""
    touchpoint_id = make_touchpoint(make_contact(user)).id
    db.session.commit()
    db.session.remove()
    with app.test_request_context("/r/x"):
        assert link_records(touchpoint_id).id == touchpoint_id
        assert not db.session.registry.has()
        reading = reading_connection()
        assert reading_connection() is reading  # one per request
        driver = reading.connection.driver_connection
        postgresql = reading.dialect.name == "postgresql"
        if postgresql:
            assert driver.autocommit is True
        else:
            assert not driver.in_transaction
        close_reading_connection()
        assert not reading.closed
        driver = db.session.connection().connection.driver_connection
        if postgresql:
            assert driver.autocommit is False
        else:
            assert driver.in_transaction
        assert reading_connection() is db.session.connection()  # the session's, once it reads
        db.session.remove()
    with app.test_request_context("/r/x"):
        assert reading_connection() is reading  # the next request's
        close_reading_connection(RuntimeError("the view failed"))
        assert reading.closed
    with app.test_request_context("/r/x"):
        fresh = reading_connection()
        assert fresh is not reading and link_records(touchpoint_id).id == touchpoint_id
        # Two requests reading at once (two threads): the second makes its own,
        # which goes back to the pool when both are done; one stays kept.
        with app.app_context(), app.test_request_context("/r/y"):
            other = reading_connection()
            assert other is not fresh
            close_reading_connection()
        assert not other.closed  # kept: the first one is still reading
        close_reading_connection()
        assert fresh.closed and not other.closed
        db.engine.dispose()
        assert other.closed
