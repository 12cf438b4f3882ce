"""Read-only records of a client link's rows, for the referrer's pages that only show.

Every referrer's request reads its link's touchpoint with the professional, the
contact and the professional's wording for that kind of contact. As ORM objects
(``tokens.read_client_link``) that costs about four times the query itself; the
pages that never write take these instead: frozen dataclasses filled from the
same one joined query, run as a Core statement (``link_records``), on a
connection for reading (``database.reading_connection``).

A record has every column of its model's table under the model's attribute
names (but a few that a referrer's page has no business reading: ``_PRIVATE``),
the model's relationships that the pages follow (``touchpoint.user``,
``touchpoint.contact``, ``contact.user``, ``contact.own_wording``), and the
properties they read (``models.NamedProfessional``, ``models.NamedContact``), so
code that only reads takes a model or a record alike. Views that write use the
models, but for the referrer's form, whose every write is a plain statement that
checks again what it relies on (``database.writing``).

A contact's record also says whether the contact introduced anyone
(``introduced_anyone``), which the same query finds along an index: most
referrers never did, and their pages then skip the query for those people
(``capture.routes.introduced_by``). It also carries the connections the form
asks about by name (``waiting_connections``, one JSON column of the same query:
``connections.queries.waiting_column``), so the form page is one statement for a
first-time referrer. The models have neither attribute.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import sqlalchemy as sa

from .database import reading_connection
from .models import (
    Contact,
    KindWording,
    NamedContact,
    NamedProfessional,
    Referral,
    Touchpoint,
    User,
)

# Never read for a referrer: the professional's credentials and lockout, and the
# contact's private notes (with the search text made from them).
_PRIVATE = frozenset(
    {
        "User.password_hash",
        "User.failed_logins",
        "User.locked_until",
        "Contact.notes",
        "Contact.search_text",
    }
)


def _columns(model) -> list[tuple[str, sa.Column]]:
    """(attribute name, column) for every column the model maps but the private ones,
    in table order."""
    mapper = sa.inspect(model)
    return [
        (attr.key, attr.columns[0])
        for attr in mapper.column_attrs
        if f"{model.__name__}.{attr.key}" not in _PRIVATE
    ]


def _record_class(model, *bases: type, related: tuple[str, ...] = ()) -> type:
    fields = [name for name, _ in _columns(model)] + list(related)
    record = dataclasses.make_dataclass(
        f"{model.__name__}Record", fields, bases=bases, frozen=True, slots=True
    )
    record.__doc__ = f"A read-only {model.__name__} row (records.py)."
    return record


UserRecord = _record_class(User, NamedProfessional)
WordingRecord = _record_class(KindWording)
ContactRecord = _record_class(
    Contact,
    NamedContact,
    related=("user", "own_wording", "introduced_anyone", "waiting_connections"),
)
TouchpointRecord = _record_class(Touchpoint, related=("user", "contact"))

_PARTS = (Touchpoint, User, Contact, KindWording)


@functools.cache
def _link_query(dialect: str) -> tuple[sa.Select, tuple[slice, ...]]:
    """The touchpoint ``:id`` with its professional, contact and wording, in one row,
    and where each one's columns lie in it (then whether the contact introduced
    anyone, and the connections the form asks about). Built once per process."""
    from .connections.queries import waiting_column  # that package's views import us

    touchpoint, user, contact, wording = (model.__table__ for model in _PARTS)
    columns, slices = [], []
    for model in _PARTS:
        part = [column for _, column in _columns(model)]
        slices.append(slice(len(columns), len(columns) + len(part)))
        columns += part
    # The joins are the models' relationships, so the record follows what the ORM
    # objects would (the wording: the professional's own, for the contact's kind).
    joined = (
        touchpoint.join(user, Touchpoint.user.property.primaryjoin)
        .join(contact, Touchpoint.contact.property.primaryjoin)
        .outerjoin(wording, Contact.own_wording.property.primaryjoin)
    )
    referral = Referral.__table__
    introduced = sa.exists().where(
        referral.c.contact_id == contact.c.id, referral.c.user_id == contact.c.user_id
    )
    query = (
        sa.select(*columns, introduced, waiting_column(dialect))
        .select_from(joined)
        .where(touchpoint.c.id == sa.bindparam("id"))
    )
    return query, tuple(slices)


def link_records(touchpoint_id: int, connection: sa.Connection | None = None) -> Any | None:
    """The ``TouchpointRecord`` of ``touchpoint_id`` (with its user, contact and the
    contact's wording), or None when there is no such touchpoint.

    Read on ``connection``, by default one for reading (``reading_connection``).
    """
    from .connections.queries import asked_connections

    connection = connection or reading_connection()
    query, (touchpoint, user, contact, wording) = _link_query(connection.dialect.name)
    row = connection.execute(query, {"id": touchpoint_id}).first()
    if row is None:
        return None
    professional = UserRecord(*row[user])
    own = WordingRecord(*row[wording]) if row[wording][0] is not None else None
    source = ContactRecord(
        *row[contact],
        user=professional,
        own_wording=own,
        introduced_anyone=bool(row[-2]),
        waiting_connections=asked_connections(row[-1]),
    )
    return TouchpointRecord(*row[touchpoint], user=professional, contact=source)
