"""The most-wanted list's figures, computed for every category at once.

A contact belongs to a category when its ``category`` is the same words as the
category's name, case and surrounding spaces aside (``belongs``). The figures
come from two grouped subqueries over the professional's data (answered
touchpoints and referrals, per contact), joined to the categories: one query
for the whole list, whatever the number of categories, contacts or referrals.
Vendor introductions (``Referral.is_vendor``) are new sources, not clients, so
they count nowhere here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..extensions import db
from ..models import Contact, Referral, ReferralStatus, Touchpoint, WantedCategory

MAX_CATEGORIES = 10
# How many of the categories outside the list are named (the count covers all).
OFF_LIST_SHOWN = 10
# Introductions with no client won before the page suggests looking at the fit.
FIT_HINT_AFTER = 3


def normalised(column):
    """The words a category is compared by: lower case, no surrounding spaces."""
    return sa.func.lower(sa.func.trim(column))


def belongs(category_column, name_column):
    return normalised(category_column) == normalised(name_column)


def _answered(user_id: int):
    """Answered touchpoints per contact."""
    return (
        sa.select(Touchpoint.contact_id, sa.func.count().label("answered"))
        .where(Touchpoint.user_id == user_id, Touchpoint.answered_at.is_not(None))
        .group_by(Touchpoint.contact_id)
        .subquery("answered")
    )


def _referred(user_id: int):
    """Referrals per contact (vendor introductions aside), clients won and their value."""
    won = Referral.status == ReferralStatus.WON
    return (
        sa.select(
            Referral.contact_id,
            sa.func.count().label("referrals"),
            sa.func.sum(sa.case((won, 1), else_=0)).label("won"),
            sa.func.sum(sa.case((won, Referral.value_won))).label("value"),
        )
        .where(Referral.user_id == user_id, Referral.is_vendor.is_(False))
        .group_by(Referral.contact_id)
        .subquery("referred")
    )


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Figures:
    """What one category (or one source) has brought."""

    sources: int
    answered: int
    referrals: int
    won: int
    value: Decimal

    @property
    def conversion(self) -> int | None:
        """Clients won per referral, in percent; None before the first referral."""
        if not self.referrals:
            return None
        return round(100 * self.won / self.referrals)


@dataclass(frozen=True)
class CategoryRow:
    id: int
    name: str
    position: int
    figures: Figures

    @property
    def hint(self) -> str:
        return thin_spot_hint(self.name, self.figures)


def category_figures(user_id: int, only_id: int | None = None) -> list[CategoryRow]:
    """Every category on the list (or just ``only_id``) with its figures, in list order.

    One query: the categories, each joined to its contacts and their per-contact
    figures, grouped by category.
    """
    answered, referred = _answered(user_id), _referred(user_id)
    query = (
        sa.select(
            WantedCategory.id,
            WantedCategory.name,
            WantedCategory.position,
            sa.func.count(Contact.id),
            sa.func.coalesce(sa.func.sum(answered.c.answered), 0),
            sa.func.coalesce(sa.func.sum(referred.c.referrals), 0),
            sa.func.coalesce(sa.func.sum(referred.c.won), 0),
            sa.func.sum(referred.c.value),
        )
        .outerjoin(
            Contact,
            sa.and_(
                Contact.user_id == WantedCategory.user_id,
                belongs(Contact.category, WantedCategory.name),
            ),
        )
        .outerjoin(answered, answered.c.contact_id == Contact.id)
        .outerjoin(referred, referred.c.contact_id == Contact.id)
        .where(WantedCategory.user_id == user_id)
        .group_by(WantedCategory.id, WantedCategory.name, WantedCategory.position)
        .order_by(WantedCategory.position, WantedCategory.id)
    )
    if only_id is not None:
        query = query.where(WantedCategory.id == only_id)
    return [
        CategoryRow(
            id=row[0],
            name=row[1],
            position=row[2],
            figures=Figures(
                sources=row[3],
                answered=int(row[4]),
                referrals=int(row[5]),
                won=int(row[6]),
                value=_money(row[7]),
            ),
        )
        for row in db.session.execute(query)
    ]


def source_figures(user_id: int, contact_ids: list[int]) -> dict[int, Figures]:
    """Each listed contact's figures, for one page of a category's sources, in one query."""
    if not contact_ids:
        return {}
    answered, referred = _answered(user_id), _referred(user_id)
    rows = db.session.execute(
        sa.select(
            Contact.id,
            sa.func.coalesce(answered.c.answered, 0),
            sa.func.coalesce(referred.c.referrals, 0),
            sa.func.coalesce(referred.c.won, 0),
            referred.c.value,
        )
        .outerjoin(answered, answered.c.contact_id == Contact.id)
        .outerjoin(referred, referred.c.contact_id == Contact.id)
        .where(Contact.user_id == user_id, Contact.id.in_(contact_ids))
    )
    return {
        row[0]: Figures(1, int(row[1]), int(row[2]), int(row[3]), _money(row[4])) for row in rows
    }


def category_sources(user_id: int, name: str):
    """The select of a category's contacts, by name (for ``helpers.paginate``)."""
    return (
        sa.select(Contact)
        .where(Contact.user_id == user_id, belongs(Contact.category, sa.literal(name)))
        .order_by(sa.func.lower(Contact.name), Contact.id)
    )


@dataclass(frozen=True)
class OffList:
    """Contacts whose category is not on the list, grouped by category."""

    categories: list  # (name as typed, count), most common first
    uncategorised: int  # contacts with no category at all

    @property
    def total(self) -> int:
        return sum(count for _, count in self.categories)

    @property
    def shown(self) -> list:
        return self.categories[:OFF_LIST_SHOWN]


def off_list(user_id: int) -> OffList:
    """The professional's contacts outside the list, in one grouped query."""
    key = normalised(Contact.category)
    on_list = (
        sa.select(WantedCategory.id)
        .where(WantedCategory.user_id == user_id, belongs(Contact.category, WantedCategory.name))
        .exists()
    )
    rows = db.session.execute(
        sa.select(sa.func.min(sa.func.trim(Contact.category)), sa.func.count())
        .where(Contact.user_id == user_id, ~on_list)
        .group_by(key)
        .order_by(sa.func.count().desc(), key)
    ).all()
    categories = [(name, count) for name, count in rows if name]
    uncategorised = sum(count for name, count in rows if not name)
    return OffList(categories=categories, uncategorised=uncategorised)


def plural(name: str) -> str:
    """ "Attorney" → "attorneys", "CPA" → "CPAs", "Accountants" stays "accountants".

    Good enough for occupations in running text; a name already plural is kept.
    """
    words = name.split()
    if not words:
        return name
    first = words[0]
    if not (len(first) > 1 and first.isupper()):
        words[0] = first[0].lower() + first[1:]
    last = words[-1]
    if last.endswith("s") and not last.endswith("ss"):
        pass
    elif last.isupper():
        last += "s"
    elif last.endswith("y") and len(last) > 1 and last[-2].lower() not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("ch", "sh", "x", "z", "ss")):
        last += "es"
    else:
        last += "s"
    words[-1] = last
    return " ".join(words)


def thin_spot_hint(name: str, figures: Figures) -> str:
    """Where this category is thin, and what to do about it; "" when it is doing fine."""
    people = plural(name)
    if figures.sources == 0:
        return (
            f"You have no {people} yet. Your clients already work with some: at their next "
            f"touchpoint, ask them to introduce theirs. If you know {people} already, give "
            f'them the category "{name}" on their contact.'
        )
    if figures.referrals == 0 and figures.answered == 0:
        return (
            f"No referrals from your {people} yet, and none has answered a touchpoint. Plan one "
            "that brings them something useful for their own clients, then ask who they've "
            "already talked to about you."
        )
    if figures.referrals == 0:
        return (
            f"Your {people} have answered touchpoints but introduced nobody yet. Ask about "
            "someone by name: note the people you know they know on their contact, and the "
            "next touchpoint asks about each one."
        )
    if figures.won == 0 and figures.referrals >= FIT_HINT_AFTER:
        return (
            f"{figures.referrals} introductions from your {people}, and no client yet. Check "
            "they know who you help best: agree with them what counts as a good introduction, "
            "and give them the words to say."
        )
    return ""
