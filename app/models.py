"""Typed models and their domain methods.

Every row that belongs to a professional carries ``user_id`` directly, so that
ownership is one indexed comparison everywhere (see ``helpers.owned_or_404``).
Times are stored in UTC; ``UTCDateTime`` hands back aware datetimes on every
database, SQLite included.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC so comparisons stay textual.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ContactKind(enum.StrEnum):
    CLIENT = "client"
    VENDOR = "vendor"
    SUPPLIER = "supplier"
    COLLEAGUE = "colleague"
    FRIEND_FAMILY = "friend_family"
    NETWORKING = "networking"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"friend_family": "Friend or family"}.get(self.value, self.value.capitalize())


class UpdatePreference(enum.StrEnum):
    EVERY_STEP = "every_step"
    MILESTONES = "milestones"
    NONE = "none"

    @property
    def label(self) -> str:
        return {
            "every_step": "Every step",
            "milestones": "Milestones only",
            "none": "No updates",
        }[self.value]


class TouchpointState(enum.StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    OPENED = "opened"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class IntroMethod(enum.StrEnum):
    REFERRER_INTRODUCES = "referrer_introduces"
    MENTION_REFERRER = "mention_referrer"
    DRAFT_FOR_REFERRER = "draft_for_referrer"
    MEET_TOGETHER = "meet_together"

    @property
    def label(self) -> str:
        """Words for the referrer choosing how the introduction happens."""
        return {
            "referrer_introduces": "I'll introduce you (email or call)",
            "mention_referrer": "Contact them directly and mention me",
            "draft_for_referrer": "Draft an introduction for me to send",
            "meet_together": "Let's meet together (coffee or lunch)",
        }[self.value]


class ReferralStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    MEETING_SET = "meeting_set"
    WON = "won"
    NOT_A_FIT = "not_a_fit"
    NO_RESPONSE = "no_response"
    ON_HOLD = "on_hold"

    @property
    def label(self) -> str:
        return {
            "new": "New",
            "contacted": "Contacted",
            "meeting_set": "Meeting set",
            "won": "Became a client",
            "not_a_fit": "Not a fit",
            "no_response": "No response",
            "on_hold": "On hold",
        }[self.value]


class ConnectionStatus(enum.StrEnum):
    NOT_ASKED = "not_asked"
    YES = "yes"
    NOT_NOW = "not_now"
    DONT_KNOW_WELL = "dont_know_well"


class AdvocacyMoment(enum.StrEnum):
    """The five moments where a client's advocacy is built (DOMAIN.md)."""

    EXPECTATION = "expectation"
    INSIGHT = "insight"
    VULNERABILITY = "vulnerability"
    FUTURE_PACING = "future_pacing"
    PERMISSION = "permission"

    @property
    def label(self) -> str:
        return {
            "expectation": "Expectations set",
            "insight": "An insight they didn't expect",
            "vulnerability": "A problem handled openly",
            "future_pacing": "Future-pacing",
            "permission": "Permission given",
        }[self.value]


class EmailState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], length: int = 24) -> sa.Enum:
    # Stored as plain strings (no native enum, no CHECK) so adding a value needs no
    # table rebuild on SQLite; the Python enum is the single list of allowed values.
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda c: [m.value for m in c],
    )


# What a row says beyond its columns, shared by a model and the read-only record of
# the same row that the referrer's pages load (records.py), so both read alike.


class NamedProfessional:
    display_name: str
    email: str

    @property
    def name(self) -> str:
        """How the professional is named to clients."""
        return self.display_name or self.email.split("@", 1)[0]


class NamedContact:
    name: str
    rhythm_days: int | None
    user: NamedProfessional

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name

    @property
    def rhythm(self) -> int | None:
        """Days between touchpoints for this contact, or None for no rhythm."""
        days = self.user.rhythm_days if self.rhythm_days is None else self.rhythm_days
        return days or None


class User(NamedProfessional, UserMixin, db.Model):
    """A professional: owns contacts, touchpoints, referrals and emails."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    display_name: Mapped[str] = mapped_column(sa.String(120), default="")
    business_name: Mapped[str] = mapped_column(sa.String(160), default="")
    # "What to say": the one line a referrer can repeat, and a forwardable blurb.
    value_proposition: Mapped[str] = mapped_column(sa.String(280), default="")
    blurb: Mapped[str] = mapped_column(sa.Text, default="")
    # Defaults for the ask and the rhythm.
    ask_count: Mapped[int] = mapped_column(default=2)
    first_touchpoint_days: Mapped[int] = mapped_column(default=90)
    rhythm_days: Mapped[int | None] = mapped_column(default=91)  # None: no rhythm
    # A referral with no step for this many days needs attention.
    attention_days: Mapped[int] = mapped_column(default=14)
    # Throttling of wrong passwords for this account.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    @classmethod
    def record_failed_login(cls, user_id: int) -> None:
        """Count a wrong password; lock the account after too many in a row.

        Counted by the database in one statement, not read-modify-write in Python,
        so simultaneous guesses cannot lose counts and slip past the lockout. The
        caller commits.
        """
        config = current_app.config
        failures = db.session.scalar(
            sa.update(cls)
            .where(cls.id == user_id)
            .values(failed_logins=cls.failed_logins + 1)
            .returning(cls.failed_logins)
        )
        if failures is not None and failures >= config["LOGIN_MAX_FAILURES"]:
            db.session.execute(
                sa.update(cls)
                .where(cls.id == user_id)
                .values(
                    failed_logins=0,
                    locked_until=utcnow() + timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"]),
                )
            )

    def record_successful_login(self) -> None:
        self.failed_logins = 0
        self.locked_until = None


def searchable_text(name: str | None, email: str | None, category: str | None) -> str:
    """What the contacts search looks in: the name, email and category, lowercased
    the Unicode way ("Élodie" is found as "élodie"), one per line so that a match
    never runs from one into the next."""
    return "\n".join((name or "", email or "", category or "")).lower()


def _searchable_on_insert(context) -> str:
    """Contact.search_text for any INSERT, the ORM's, a bulk one or Core's."""
    row = context.get_current_parameters()
    return searchable_text(row.get("name"), row.get("email"), row.get("category"))


class Contact(NamedContact, db.Model):
    """A referral source: a client, vendor, colleague ... of one professional."""

    __table_args__ = (
        # The list's order (lower(name), id), read in order a page at a time. On
        # SQLite lower() is the app's Unicode one (database.py), so only the app's
        # connections should write contacts' names.
        sa.Index("ix_contact_user_lower_name", "user_id", sa.text("lower(name)"), "id"),
        sa.Index("ix_contact_user_created", "user_id", "created_at"),
        # The search's count reads the professional's search texts from here, side by
        # side, instead of each contact's row from wherever it lies in the table.
        sa.Index("ix_contact_user_search", "user_id", "search_text"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(160))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    kind: Mapped[ContactKind] = mapped_column(_enum(ContactKind), default=ContactKind.CLIENT)
    category: Mapped[str] = mapped_column(sa.String(120), default="")  # occupation
    engagement_start: Mapped[date | None]
    delivered_on: Mapped[date | None]
    # The terms agreed at the start of the engagement.
    terms_what_counts: Mapped[str] = mapped_column(sa.Text, default="")
    terms_how_many: Mapped[int | None]
    terms_in_return: Mapped[str] = mapped_column(sa.Text, default="")
    update_preference: Mapped[UpdatePreference] = mapped_column(
        _enum(UpdatePreference), default=UpdatePreference.EVERY_STEP
    )
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None: the professional's default; 0: no regular touchpoints for this contact.
    rhythm_days: Mapped[int | None]
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # searchable_text() of the row, kept by the database's writers: the default on
    # insert, _keep_searchable on the ORM's updates, and by hand in the one bulk
    # UPDATE of a searched column (renaming a category). The search reads it with
    # the database's own LIKE, instead of lowering every row it looks at.
    search_text: Mapped[str] = mapped_column(
        sa.Text, default=_searchable_on_insert, server_default=""
    )

    user: Mapped[User] = relationship()
    # The professional's own words for this kind of source, if they wrote any. The
    # referrer's pages load it with the link, in the same query (tokens.read_client_link).
    own_wording: Mapped[KindWording | None] = relationship(
        primaryjoin="and_(Contact.user_id == foreign(KindWording.user_id), "
        "Contact.kind == foreign(KindWording.kind))",
        viewonly=True,
        uselist=False,
    )

    def plan_first_touchpoint(self) -> Touchpoint | None:
        """Plan (or move) the touchpoint that follows delivery.

        Called after the delivery date is set or changed. Only a touchpoint that
        was planned from delivery and not yet sent is moved; one planned by hand
        is left alone.
        """
        if self.delivered_on is None:
            return None
        due = self.delivered_on + timedelta(days=self.user.first_touchpoint_days)
        existing = db.session.scalar(
            sa.select(Touchpoint).where(
                Touchpoint.contact_id == self.id,
                Touchpoint.from_delivery.is_(True),
            )
        )
        if existing is not None:
            if existing.state == TouchpointState.PLANNED:
                existing.due_on = due
            return existing
        touchpoint = Touchpoint(
            user_id=self.user_id,
            user=self.user,  # default_message() reads both before the row is flushed
            contact=self,
            due_on=due,
            ask_count=self.user.ask_count,
            value_offered="",
            from_delivery=True,
        )
        touchpoint.message = touchpoint.default_message()
        db.session.add(touchpoint)
        return touchpoint


@sa.event.listens_for(Contact, "before_update")
def _keep_searchable(_mapper, _connection, contact: Contact) -> None:
    contact.search_text = searchable_text(contact.name, contact.email, contact.category)


class Connection(db.Model):
    """Someone the professional knows that a contact knows: a named ask."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(160))
    organisation: Mapped[str] = mapped_column(sa.String(160), default="")
    how_known: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ConnectionStatus] = mapped_column(
        _enum(ConnectionStatus), default=ConnectionStatus.NOT_ASKED
    )
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when last answered
    # The touchpoint whose form last answered the question about this person.
    touchpoint_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("touchpoint.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship()


class Touchpoint(db.Model):
    """A planned moment of value for one contact, with the ask and its link."""

    __table_args__ = (
        sa.Index("ix_touchpoint_user_state_due", "user_id", "state", "due_on"),
        sa.Index("ix_touchpoint_contact_due", "contact_id", "due_on"),
        # send-due's emails: planned touchpoints that send themselves, by date, across
        # every professional; never the ones waiting to be sent by hand.
        sa.Index("ix_touchpoint_send_due", "state", "auto_send", "due_on", "id"),
        # send-due's rhythm: only the touchpoints it still has to look at (planning.py).
        # The WHERE is written as the query writes it, literals included, so both
        # databases can see the query needs nothing outside the index.
        sa.Index(
            "ix_touchpoint_rhythm_pending",
            "due_on",
            "id",
            sqlite_where=sa.text("rhythm_pending = 1 AND state != 'planned'"),
            postgresql_where=sa.text("rhythm_pending AND state != 'planned'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contact.id", ondelete="CASCADE"))
    due_on: Mapped[date]
    value_offered: Mapped[str] = mapped_column(sa.Text, default="")  # what was delivered
    message: Mapped[str] = mapped_column(sa.Text, default="")
    ask_count: Mapped[int] = mapped_column(default=2)
    state: Mapped[TouchpointState] = mapped_column(
        _enum(TouchpointState), default=TouchpointState.PLANNED
    )
    from_delivery: Mapped[bool] = mapped_column(default=False)
    auto_send: Mapped[bool] = mapped_column(default=False)
    # For clients: also ask them to introduce the other vendors who serve them.
    ask_for_vendors: Mapped[bool] = mapped_column(default=False)
    # Revocation: a link carries the version it was signed with; bumping the
    # version (or clearing link_active) kills every older link at once.
    link_version: Mapped[int] = mapped_column(default=1)
    link_active: Mapped[bool] = mapped_column(default=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fresh_link_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The rhythm may still have to act after this touchpoint: true from the start,
    # cleared by send-due once it has (see touchpoints/planning.py).
    rhythm_pending: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    user: Mapped[User] = relationship()
    contact: Mapped[Contact] = relationship()

    @validates("state", "due_on")
    def _rhythm_looks_again(self, key, value):
        # Planned again (a cancel undone) or moved to another date, this touchpoint
        # may be the one the rhythm follows now: it looks at it again.
        if key == "due_on" or value == TouchpointState.PLANNED:
            self.rhythm_pending = True
        return value

    def default_message(self) -> str:
        """The pre-filled message for this touchpoint (``touchpoint_message``)."""
        return touchpoint_message(self.contact, self.user, self.value_offered, self.ask_count)

    def revoke_link(self) -> None:
        """Kill every link issued so far; no link works until one is reissued."""
        self.link_version += 1
        self.link_active = False

    def reissue_link(self) -> None:
        """Kill every earlier link and make a new one valid."""
        if self.link_active:
            self.link_version += 1
        self.link_active = True

    def mark_sent(self, when: datetime | None = None) -> None:
        if self.state == TouchpointState.PLANNED:
            self.state = TouchpointState.SENT
        self.sent_at = self.sent_at or when or utcnow()

    @property
    def is_overdue(self) -> bool:
        return self.state == TouchpointState.PLANNED and self.due_on < date.today()


def touchpoint_message(contact, user, value_offered: str, ask_count: int | None) -> str:
    """The pre-filled message: the value delivered, the terms agreed, then the explicit ask.

    The terms paragraph (what counts as an introduction, how many the contact
    was glad to make, what the professional gives in return) says only what
    was recorded, and is left out when nothing was. ``contact`` and ``user`` are
    models or read-only records (records.py) alike.
    """
    value = value_offered.strip() or "[what you did for them since we last spoke]"
    count = ask_count or user.ask_count

    def tidy(text: str | None) -> str:
        # One line, no closing full stop: it goes inside a sentence of ours.
        return " ".join((text or "").split()).rstrip(" .;,")

    def sentence(text: str) -> str:
        text = text[0].upper() + text[1:]
        return text if text[-1] in ".!?" else f"{text}."

    def mid_sentence(text: str) -> str:
        # "A free review" → "a free review"; "CPA hours" and "I" stay as they are.
        word = text.split(" ", 1)[0]
        if word != "I" and word[:1].isupper() and (word[1:].islower() or len(word) == 1):
            return text[:1].lower() + text[1:]
        return text

    what = mid_sentence(tidy(contact.terms_what_counts))
    how_many = contact.terms_how_many or 0
    # What the professional gives in return, written as a promise ("send you my
    # quarterly review", even "I'll send ...") or as a thing ("a free review").
    give = re.sub(r"^(i'll|i’ll|i will|to)\s+", "", tidy(contact.terms_in_return), flags=re.I)
    give = mid_sentence(give)
    first_word = give.split(" ", 1)[0]
    is_promise = first_word.lower() in {
        "add", "arrange", "book", "bring", "buy", "call", "check", "cover", "do",
        "donate", "extend", "give", "help", "host", "include", "introduce", "invite",
        "keep", "make", "offer", "pay", "provide", "put", "recommend", "refer",
        "run", "send", "share", "take", "thank", "treat", "waive",
        "write",
    }  # fmt: skip

    terms = []
    started = "When we started working together, "
    if what:
        terms.append(sentence(f"{started}we agreed on what makes a good introduction: {what}"))
        started = ""
    glad = ""
    if how_many:
        people = "one person" if how_many == 1 else f"about {how_many} people"
        glad = f"you mentioned you'd be glad to introduce {people}"
    if glad and give:
        in_return = f"I'll {give}" if is_promise else f"I promised you {give}"
        terms.append(sentence(f"{started}{glad}, and in return {in_return}"))
    elif glad:
        terms.append(sentence(f"{started}{glad}"))
    elif give and started:
        in_return = (
            f"I said that in return for your introductions I'd {give}"
            if is_promise
            else f"I promised you {give} in return for your introductions"
        )
        terms.append(sentence(f"{started}{in_return}"))
    elif give:
        in_return = f"I'll {give}" if is_promise else f"I promised you {give}"
        terms.append(sentence(f"In return for your introductions, {in_return}"))

    if count == 1:
        ask = "Who is the one person you've already talked to about working with me?"
    else:
        ask = f"Who are the {count} people you've already talked to about working with me?"
    # With terms agreed, they already know why: go straight to the ask.
    why = "" if terms else "My practice grows through introductions from people I've worked with. "
    return "\n\n".join(
        [
            f"Hi {contact.first_name},",
            value,
            *([" ".join(terms)] if terms else []),
            f"{why}{ask} The link below takes a minute and lets you tell me how you'd "
            "like the introduction to happen.",
            f"Thank you,\n{user.name}",
        ]
    )


class Referral(db.Model):
    """A person a referrer named, and where they stand in the pipeline."""

    __table_args__ = (
        # Idempotency: replaying one submission can never add its people twice.
        sa.UniqueConstraint("submission_key", "position"),
        # The pipeline list's filters and sorts, each read in order a page at a time
        # (see referrals.routes.SORTS), and the home page's longest-waiting first.
        # Each ends with the id, the sorts' tiebreak: PostgreSQL then finds a page's
        # ids in the index alone (SQLite keeps the rowid in every index anyway).
        sa.Index("ix_referral_user_status_created", "user_id", "status", "created_at", "id"),
        sa.Index("ix_referral_user_created", "user_id", "created_at", "id"),
        sa.Index("ix_referral_user_last_step", "user_id", "last_step_at", "id"),
        sa.Index("ix_referral_user_lower_name", "user_id", sa.text("lower(name)"), "id"),
        # One contact's referrals, newest first (their page, the referrer's form).
        # user_id is in it because every such query also checks it: with the
        # contact alone, SQLite (no statistics) saw a tie with the professional's
        # user_id indexes, settled by the order the indexes were created in, and
        # could read every referral they have to find one contact's few.
        sa.Index("ix_referral_contact_user_created", "contact_id", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contact.id", ondelete="CASCADE"))
    touchpoint_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("touchpoint.id", ondelete="SET NULL"), index=True
    )
    connection_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="SET NULL")
    )
    submission_key: Mapped[str | None] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(160))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    how_known: Mapped[str] = mapped_column(sa.Text, default="")
    need: Mapped[str] = mapped_column(sa.Text, default="")
    intro_method: Mapped[IntroMethod] = mapped_column(
        _enum(IntroMethod), default=IntroMethod.MENTION_REFERRER
    )
    # The referrer's statement that the person is happy to be contacted.
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_notice_version: Mapped[str] = mapped_column(sa.String(20), default="")
    status: Mapped[ReferralStatus] = mapped_column(
        _enum(ReferralStatus), default=ReferralStatus.NEW
    )
    value_won: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    last_step_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A vendor the referrer introduced (a new source), not a prospective client.
    is_vendor: Mapped[bool] = mapped_column(default=False)
    # "Draft an introduction for me to send": the professional's draft, and the
    # referrer's own edit of it (what their mailto link carries).
    intro_draft_subject: Mapped[str] = mapped_column(sa.String(200), default="")
    intro_draft: Mapped[str] = mapped_column(sa.Text, default="")
    intro_draft_by_referrer: Mapped[str] = mapped_column(sa.Text, default="")
    # When the professional last sent a personal thank-you for this referral
    # (the automatic one at capture does not count).
    thanked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship()
    touchpoint: Mapped[Touchpoint | None] = relationship()

    def change_status(
        self,
        status: ReferralStatus,
        *,
        author: str,
        note: str = "",
        value_won: Decimal | None = None,
        now: datetime | None = None,
    ) -> ReferralEvent:
        """Move the referral to ``status`` and record the step; the caller commits."""
        now = now or utcnow()
        event = ReferralEvent(
            referral=self,
            user_id=self.user_id,
            kind=EventKind.STATUS,
            from_status=self.status,
            to_status=status,
            note=note.strip(),
            author=author,
            created_at=now,
        )
        self.status = status
        if status == ReferralStatus.WON:
            self.value_won = value_won
        self.last_step_at = now
        db.session.add(event)
        return event

    def add_note(self, note: str, *, author: str, now: datetime | None = None) -> ReferralEvent:
        """A private note in the history. It counts as a step; the referrer never sees it."""
        now = now or utcnow()
        event = ReferralEvent(
            referral=self,
            user_id=self.user_id,
            kind=EventKind.NOTE,
            note=note.strip(),
            author=author,
            created_at=now,
        )
        self.last_step_at = now
        db.session.add(event)
        return event


class EventKind(enum.StrEnum):
    CREATED = "created"  # the referrer named the person
    STATUS = "status"  # a step in the pipeline
    NOTE = "note"  # a private note
    THANKS = "thanks"  # a personal thank-you to the referrer
    DRAFT = "draft"  # the professional wrote the introduction for the referrer to send
    HEADS_UP = "heads_up"  # something went wrong; the referrer hears it first


class UpdateState(enum.StrEnum):
    """Whether the referrer hears about an event."""

    NONE = "none"  # nothing to tell (notes, the referral's creation)
    PENDING = "pending"  # a step worth telling; the professional has not decided yet
    QUEUED = "queued"  # in an email to the referrer (see ``email_id``)
    SKIPPED = "skipped"  # the professional chose not to tell, or the preference said not to


class KindWording(db.Model):
    """A professional's words for one source kind: the ask's framing, and what to say.

    Empty fields fall back to the defaults (``capture/wording.py``) and to the
    professional's own value proposition and blurb.
    """

    __table_args__ = (sa.UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[ContactKind] = mapped_column(_enum(ContactKind))
    ask_framing: Mapped[str] = mapped_column(sa.Text, default="")
    value_proposition: Mapped[str] = mapped_column(sa.String(280), default="")
    blurb: Mapped[str] = mapped_column(sa.Text, default="")


class WantedCategory(db.Model):
    """One of the professional's most-wanted occupational categories (about ten).

    Contacts belong to it when their ``category`` is the same words (case and
    surrounding spaces aside).
    """

    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactMoment(db.Model):
    """An advocacy moment a contact has had, with when and a note."""

    __table_args__ = (sa.UniqueConstraint("contact_id", "moment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contact.id", ondelete="CASCADE"))
    moment: Mapped[AdvocacyMoment] = mapped_column(_enum(AdvocacyMoment))
    happened_on: Mapped[date | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralEvent(db.Model):
    """One step in a referral's history, and what (if anything) the referrer was told."""

    __table_args__ = (
        sa.Index("ix_referral_event_user_kind_created", "user_id", "kind", "created_at"),
        # Only the events that went out in an email to the referrer are looked up by
        # it; the rest (most of them, and every one a submission writes) stay out.
        sa.Index(
            "ix_referral_event_email_id",
            "email_id",
            sqlite_where=sa.text("email_id IS NOT NULL"),
            postgresql_where=sa.text("email_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, 20))
    from_status: Mapped[ReferralStatus | None] = mapped_column(_enum(ReferralStatus))
    to_status: Mapped[ReferralStatus | None] = mapped_column(_enum(ReferralStatus))
    note: Mapped[str] = mapped_column(sa.Text, default="")  # private to the professional
    referrer_message: Mapped[str] = mapped_column(sa.Text, default="")  # words fit for them
    update_state: Mapped[UpdateState] = mapped_column(
        _enum(UpdateState, 10), default=UpdateState.NONE
    )
    referrer_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbound_email.id", ondelete="SET NULL")
    )
    author: Mapped[str] = mapped_column(sa.String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship()


class OutboundEmail(db.Model):
    """The outbox: every email is a row first, delivered later by ``outbox deliver``."""

    __table_args__ = (
        sa.Index("ix_outbound_email_state_next", "state", "next_attempt_at"),
        sa.Index("ix_outbound_email_user_created", "user_id", "created_at"),
        # Only updates to a referrer have a key (most emails have none).
        sa.Index(
            "ix_outbound_email_batch_state",
            "batch_key",
            "state",
            sqlite_where=sa.text("batch_key IS NOT NULL"),
            postgresql_where=sa.text("batch_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contact.id", ondelete="SET NULL"))
    template: Mapped[str] = mapped_column(sa.String(60))
    to_name: Mapped[str] = mapped_column(sa.String(160), default="")
    to_email: Mapped[str] = mapped_column(sa.String(254))
    reply_to: Mapped[str] = mapped_column(sa.String(254), default="")
    subject: Mapped[str] = mapped_column(sa.String(255))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    # Emails to a referrer carry a one-click unsubscribe address (RFC 8058).
    unsubscribe_url: Mapped[str] = mapped_column(sa.String(1000), default="")
    # Emails that gather several changes (updates to one referrer) share a key
    # while queued; later changes join the queued email instead of adding one.
    batch_key: Mapped[str | None] = mapped_column(sa.String(60))
    state: Mapped[EmailState] = mapped_column(_enum(EmailState), default=EmailState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
