"""The most-wanted list: which occupations the professional wants as sources, and how each does.

The list page shows every category's figures from one grouped query (see
``queries.category_figures``) and the contacts outside the list from another;
a category's page lists its sources with their own figures.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..helpers import owned_or_404, paginate
from ..main.routes import money
from ..models import Contact, User, WantedCategory, searchable_text, utcnow
from . import bp
from .forms import CategoryForm, RenameForm
from .queries import (
    MAX_CATEGORIES,
    belongs,
    category_figures,
    category_sources,
    off_list,
    source_figures,
)

FULL = (
    f"Your list already has {MAX_CATEGORIES} categories, the most it holds. "
    "Remove one to make room for another."
)


@bp.route("/")
@login_required
def index():
    """Each most-wanted category's sources, answers, referrals and clients won, and the gaps."""
    return _render_index(CategoryForm(formdata=None))


def _render_index(form: CategoryForm, status: int = 200):
    rows = category_figures(current_user.id)
    return render_template(
        "categories/index.html",
        rows=rows,
        form=form,
        full=len(rows) >= MAX_CATEGORIES,
        max_categories=MAX_CATEGORIES,
        off_list=off_list(current_user.id),
        money=money,
    ), status


@bp.route("/add", methods=["POST"])
@login_required
def add():
    """Put an occupation on the list (at the end), unless the list is full or has it already."""
    form = CategoryForm()
    if form.validate_on_submit():
        _lock_list()
        names = db.session.scalars(
            sa.select(WantedCategory.name).where(WantedCategory.user_id == current_user.id)
        ).all()
        if len(names) >= MAX_CATEGORIES:
            form.name.errors.append(FULL)
        elif _taken(form.name.data, names):
            form.name.errors.append(f'"{form.name.data}" is already on your list.')
        else:
            position = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.max(WantedCategory.position), 0)).where(
                    WantedCategory.user_id == current_user.id
                )
            )
            db.session.add(
                WantedCategory(user_id=current_user.id, name=form.name.data, position=position + 1)
            )
            if _commit_or_taken(form):
                flash(f'"{form.name.data}" is on your most-wanted list.', "success")
                return redirect(url_for("categories.index"), 303)
    return _render_index(form, 422)


@bp.route("/<int:category_id>")
@login_required
def detail(category_id: int):
    """One category: its figures, its sources with theirs, and renaming or removing it."""
    category = owned_or_404(WantedCategory, category_id)
    return _render_detail(category, RenameForm(formdata=None, name=category.name))


def _render_detail(category: WantedCategory, form: RenameForm, status: int = 200):
    row = category_figures(current_user.id, only_id=category.id)[0]
    sources = paginate(category_sources(current_user.id, category.name))
    return render_template(
        "categories/detail.html",
        category=category,
        row=row,
        sources=sources,
        figures=source_figures(current_user.id, [contact.id for contact in sources.items]),
        form=form,
        money=money,
    ), status


@bp.route("/<int:category_id>/rename", methods=["POST"])
@login_required
def rename(category_id: int):
    """Rename a category, and (by default) its contacts' category with it so they stay in it."""
    category = owned_or_404(WantedCategory, category_id)
    form = RenameForm()
    if form.validate_on_submit():
        _lock_list()
        others = db.session.scalars(
            sa.select(WantedCategory.name).where(
                WantedCategory.user_id == current_user.id, WantedCategory.id != category.id
            )
        ).all()
        if _taken(form.name.data, others):
            form.name.errors.append(f'"{form.name.data}" is already on your list.')
        else:
            old, new = category.name, form.name.data
            moved = 0
            if form.contacts_too.data and old != new:
                moved = _move_contacts(old, new)
            category.name = new
            if _commit_or_taken(form):
                message = f'Renamed to "{new}".'
                if moved:
                    message += f" {moved} contact{'s' if moved != 1 else ''} moved with it."
                flash(message, "success")
                return redirect(url_for("categories.detail", category_id=category.id), 303)
            category = owned_or_404(WantedCategory, category_id)
    return _render_detail(category, form, 422)


@bp.route("/<int:category_id>/remove", methods=["POST"])
@login_required
def remove(category_id: int):
    """Take a category off the list; its contacts keep their category."""
    category = owned_or_404(WantedCategory, category_id)  # CSRF is checked app-wide
    name = category.name
    db.session.delete(category)
    db.session.commit()
    flash(f'"{name}" is off your list. Its contacts keep their category.', "success")
    return redirect(url_for("categories.index"), 303)


def _lock_list() -> None:
    """Serialise changes to one professional's list (PostgreSQL; SQLite writes are serial)."""
    db.session.execute(sa.select(User.id).where(User.id == current_user.id).with_for_update())


def _taken(name: str, names: list[str]) -> bool:
    key = name.strip().lower()
    return any(other.strip().lower() == key for other in names)


def _commit_or_taken(form) -> bool:
    """Commit; a name added at the same moment elsewhere is reported, not a crash."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.name.errors.append(f'"{form.name.data}" is already on your list.')
        return False
    return True


def _move_contacts(old: str, new: str) -> int:
    """Put the professional's contacts of category ``old`` in ``new``; how many moved.

    One UPDATE, then their search text (models.searchable_text) in one more: it is
    lowercased in Python, as every other contact's is.
    """
    moved = db.session.execute(
        sa.update(Contact)
        .where(Contact.user_id == current_user.id, belongs(Contact.category, sa.literal(old)))
        .values(category=new, updated_at=utcnow())
        .returning(Contact.id, Contact.name, Contact.email)
        .execution_options(synchronize_session=False)
    ).all()
    if moved:
        contact = Contact.__table__
        db.session.connection().execute(
            contact.update()
            .where(contact.c.id == sa.bindparam("contact_id"))
            .values(search_text=sa.bindparam("text")),
            [
                {"contact_id": row.id, "text": searchable_text(row.name, row.email, new)}
                for row in moved
            ],
        )
    return len(moved)
