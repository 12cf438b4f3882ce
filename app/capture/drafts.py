"""Introductions drafted for the referrer to send ("draft an introduction for me to send").

The professional writes the introduction on the referral's page (see
``referrals.routes.draft``), starting from ``default_subject``/``default_body``:
an email in the referrer's voice to the person they introduced. The referrer
sees it under that person on their link page (``capture/_introduced.html``
calls ``referrer_drafts``), can change it there while the link works (saved to
``intro_draft_by_referrer``; the subject is shared), and sends it from their own
mailbox with a mailto link, or copies it. Referloop never emails the referred
person: the mailto link only opens the referrer's own email app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..forms_common import strip
from ..helpers import is_htmx, mailto
from ..models import IntroMethod, Referral, Touchpoint
from ..tokens import LinkState, read_client_link
from . import bp
from .forms import LinkForm
from .wording import (
    INTRO_DRAFT_BUSINESS,
    INTRO_DRAFT_GREETING,
    INTRO_DRAFT_NEED,
    INTRO_DRAFT_NO_NEED,
    INTRO_DRAFT_OPENING,
    INTRO_DRAFT_REACH,
    INTRO_DRAFT_REACH_NO_EMAIL,
    INTRO_DRAFT_SIGN_OFF,
    INTRO_DRAFT_SUBJECT,
    first_name,
    kind_wording,
    person_first_name,
    words_to_say,
)

SUBJECT_MAX = 200  # Referral.intro_draft_subject
BODY_MAX = 10_000
# The referrer's page lists their most recent people; their drafts come with them.
DRAFTS_LIMIT = 50


# The draft itself


def normalise(text: str | None) -> str:
    """One kind of line break (browsers send CRLF), no surrounding blank space."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def default_subject(referral: Referral) -> str:
    user = referral.contact.user
    subject = INTRO_DRAFT_SUBJECT.format(pro=user.name, person=person_first_name(referral.name))
    return subject[:SUBJECT_MAX]


def _need_clause(need: str) -> str:
    """The need as the end of a sentence: one line, lower-case start, a full stop."""
    need = " ".join(need.split())
    if len(need) > 1 and need[0].isupper() and need[1].islower():
        need = need[0].lower() + need[1:]
    return need if need[-1] in ".!?" else f"{need}."


def default_body(referral: Referral) -> str:
    """A starting draft in the referrer's voice: who the professional is, what they do
    (their one line for this kind of source), the person's need, and the referrer's
    sign-off. The professional edits it before saving."""
    contact = referral.contact
    user = contact.user
    pro_first = first_name(user)
    line, _ = words_to_say(user, kind_wording(user, contact.kind))
    business = INTRO_DRAFT_BUSINESS.format(business=user.business_name.strip())
    opening = INTRO_DRAFT_OPENING.format(
        pro=user.name, business=business if user.business_name.strip() else ""
    )
    need = referral.need.strip()
    paragraphs = [
        INTRO_DRAFT_GREETING.format(person=person_first_name(referral.name)),
        f"{opening} {line}".strip(),
        INTRO_DRAFT_NEED.format(pro_first=pro_first, need=_need_clause(need))
        if need
        else INTRO_DRAFT_NO_NEED.format(pro_first=pro_first),
        INTRO_DRAFT_REACH.format(pro_first=pro_first, email=user.email)
        if user.email
        else INTRO_DRAFT_REACH_NO_EMAIL,
        INTRO_DRAFT_SIGN_OFF.format(referrer=contact.first_name),
    ]
    return "\n\n".join(paragraphs)


def has_draft(referral: Referral) -> bool:
    """Whether the referrer has an introduction to send for this person."""
    return referral.intro_method == IntroMethod.DRAFT_FOR_REFERRER and bool(
        referral.intro_draft.strip()
    )


@bp.app_template_global("intro_draft_text")
def referrer_version(referral: Referral) -> str:
    """What the referrer sends: their own edit when they made one, else the professional's."""
    return normalise(referral.intro_draft_by_referrer) or normalise(referral.intro_draft)


@bp.app_template_global("intro_draft_mailto")
def draft_mailto(referral: Referral) -> str:
    """The referrer's "send it from my email" link: to the person, with the draft filled in."""
    return mailto(
        referral.email or "",
        subject=referral.intro_draft_subject.strip(),
        body=referrer_version(referral),
    )


# The referrer's page


@dataclass
class ReferrerDrafts:
    """The drafts waiting for one referrer, and whether their link lets them edit."""

    editable: bool
    by_id: dict[int, Referral] = field(default_factory=dict)

    def for_person(self, person) -> Referral | None:
        """The draft for one person of ``capture.routes.Introduced``, if there is one."""
        return self.by_id.get(person.referral_id)

    def __bool__(self) -> bool:
        return bool(self.by_id)


def referrer_drafts(touchpoint: Touchpoint, *, editable: bool) -> ReferrerDrafts:
    """The introductions drafted for this touchpoint's referrer (one query), for their page.

    ``editable``: the link works (an expired one still shows each draft and its
    email link, read-only).
    """
    drafts = _contact_drafts(touchpoint)
    return ReferrerDrafts(
        editable=editable,
        by_id={referral.id: referral for referral in drafts},
    )


def _contact_drafts(touchpoint: Touchpoint) -> list[Referral]:
    return db.session.scalars(
        sa.select(Referral)
        .where(
            Referral.contact_id == touchpoint.contact_id,
            Referral.user_id == touchpoint.user_id,
            Referral.intro_method == IntroMethod.DRAFT_FOR_REFERRER,
            Referral.intro_draft != "",
        )
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(DRAFTS_LIMIT)
    ).all()


class ReferrerDraftForm(LinkForm):
    """The referrer's own version of the introduction."""

    subject = StringField(
        "Subject",
        validators=[
            DataRequired("Write a subject line."),
            Length(max=SUBJECT_MAX, message=f"Keep the subject under {SUBJECT_MAX} characters."),
        ],
        filters=[strip],
    )
    body = TextAreaField(
        "Message",
        validators=[
            DataRequired("Write the message, or go back to the draft you were sent."),
            Length(max=BODY_MAX, message=f"Keep the message under {BODY_MAX:,} characters."),
        ],
        filters=[strip],
    )


@bp.post("/<token>/draft/<int:referral_id>")
def save_draft(token: str, referral_id: int):
    """The referrer saves their version of an introduction (or goes back to the draft)."""
    link = read_client_link(token)
    if link.state is LinkState.INVALID:
        abort(404)
    if link.state is not LinkState.VALID:
        # Nothing is saved; the link's page says why it no longer works.
        if is_htmx():
            response = current_app.make_response(("", 204))
            response.headers["HX-Refresh"] = "true"
            return response
        return redirect(url_for(".form", token=token), 303)
    touchpoint = link.touchpoint
    referral = db.session.scalar(
        sa.select(Referral).where(
            Referral.id == referral_id,
            Referral.contact_id == touchpoint.contact_id,
            Referral.user_id == touchpoint.user_id,
        )
    )
    if referral is None or not has_draft(referral):
        abort(404)
    pro = first_name(touchpoint.user)

    # The link's CSRF token was checked before the view (capture/__init__.py).
    if request.form.get("action") == "reset":
        referral.intro_draft_by_referrer = ""
        db.session.commit()
        return _saved(token, referral, pro, f"Back to {pro}'s version.")

    form = ReferrerDraftForm()
    if not form.validate_on_submit():
        return _draft_problem(token, referral, touchpoint, form)
    body = normalise(form.body.data)
    referral.intro_draft_subject = form.subject.data
    # Unchanged words are not an edit: a later change by the professional still shows.
    referral.intro_draft_by_referrer = "" if body == normalise(referral.intro_draft) else body
    db.session.commit()
    return _saved(token, referral, pro, "Saved. “Send it from my email” now uses this version.")


def _fragment_context(token: str, referral: Referral, pro: str, **context) -> dict:
    return {"token": token, "referral": referral, "pro": pro, "editable": True, **context}


def _saved(token: str, referral: Referral, pro: str, message: str):
    if is_htmx():
        html = render_template(
            "capture/_draft.html", **_fragment_context(token, referral, pro, saved=message)
        )
        response = current_app.make_response(html)
        response.vary.add("HX-Request")
        return response
    flash(message, "success")
    response = redirect(url_for(".form", token=token, _anchor=f"draft-{referral.id}"), 303)
    response.vary.add("HX-Request")
    return response


def _draft_problem(token: str, referral: Referral, touchpoint: Touchpoint, form: ReferrerDraftForm):
    """422 with what was typed: the section alone for htmx, a page of its own otherwise."""
    pro = first_name(touchpoint.user)
    context = _fragment_context(token, referral, pro, draft_form=form)
    if is_htmx():
        template = "capture/_draft.html"
    else:
        template = "capture/draft.html"
        context.update(user=touchpoint.user, contact=touchpoint.contact, touchpoint=touchpoint)
    response = current_app.make_response((render_template(template, **context), 422))
    response.vary.add("HX-Request")
    return response


_BLANK_LINES = re.compile(r"\n{3,}")


def draft_as_text(referral: Referral) -> str:
    """The draft written out for an email (when the referrer has no link to open)."""
    body = _BLANK_LINES.sub("\n\n", normalise(referral.intro_draft))
    return f"Subject: {referral.intro_draft_subject.strip()}\n\n{body}"
