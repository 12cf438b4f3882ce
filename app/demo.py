"""``flask demo``: a demo professional with contacts, touchpoints and referrals.

Run it again at will: nothing is added twice. Each run gives the demo account a
new password (printed once) and prints a client link that works.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db
from .helpers import external_url
from .models import (
    AdvocacyMoment,
    Connection,
    Contact,
    ContactKind,
    ContactMoment,
    EventKind,
    IntroMethod,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Touchpoint,
    TouchpointState,
    UpdatePreference,
    UpdateState,
    User,
    WantedCategory,
)
from .tokens import client_link_url

DEMO_EMAIL = "demo@referloop.test"
# No 0/o, 1/l/i: the password is read off a terminal and typed.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet, not a secret)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed a demo professional and print how to sign in and one client link."""
    password = new_password()
    user, created = seed_demo(password)
    touchpoint = live_touchpoint(user)
    link = client_link_url(touchpoint)
    about = f"{touchpoint.contact.name}'s touchpoint (due {touchpoint.due_on:%d %b %Y})"
    db.session.commit()

    click.echo("Demo data created." if created else "Demo data already there; password reset.")
    click.echo(f"Sign in at {external_url('auth.login')}")
    click.echo(f"  Email:    {DEMO_EMAIL}")
    click.echo(f"  Password: {password}   (shown only now; run `flask demo` for a new one)")
    click.echo(f"Client link for {about}:")
    click.echo(f"  {link}")


def new_password() -> str:
    """About 79 random bits in four groups that are easy to type."""
    chars = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def seed_demo(password: str) -> tuple[User, bool]:
    """The demo professional and their data, added where missing; the caller commits."""
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == DEMO_EMAIL))
    created = user is None
    if user is None:
        user = User(
            email=DEMO_EMAIL,
            display_name="Morgan Ellis",
            business_name="Ellis Practice Tax",
            value_proposition=(
                "helps owners of dental and medical practices keep more of what they earn"
            ),
            blurb=(
                "Morgan Ellis runs Ellis Practice Tax, a small CPA firm that works only "
                "with owners of dental, medical and veterinary practices. Most clients "
                "save more in the first year than the fees cost, and Morgan explains "
                "every number in plain words. If you know a practice owner who has never "
                "had a second opinion on their taxes, Morgan is happy to take a look, "
                "with no obligation."
            ),
            ask_count=2,
            first_touchpoint_days=90,
            rhythm_days=91,
        )
        db.session.add(user)
    user.set_password(password)
    user.record_successful_login()  # a locked demo account would be no demo
    db.session.flush()
    _seed_contacts(user)
    _seed_most_wanted(user)
    return user, created


def live_touchpoint(user: User) -> Touchpoint:
    """A touchpoint of the demo user that is due and whose link opens the form."""
    touchpoint = db.session.scalar(
        sa.select(Touchpoint)
        .where(
            Touchpoint.user_id == user.id,
            Touchpoint.state.in_([TouchpointState.PLANNED, TouchpointState.SENT]),
            Touchpoint.due_on <= date.today(),
        )
        .order_by(Touchpoint.due_on.desc(), Touchpoint.id)
    )
    if touchpoint is None:
        # Someone answered or cancelled every due one while trying the demo.
        contact = db.session.scalar(
            sa.select(Contact)
            .where(Contact.user_id == user.id, Contact.kind == ContactKind.CLIENT)
            .order_by(Contact.id)
        )
        if contact is None:  # the demo contacts were deleted by hand
            contact = _contact(user, "Priya Shah", email="priya@shahfamilydental.example")[0]
        touchpoint = _touchpoint(user, contact, due_on=date.today())
    if not touchpoint.link_active:
        touchpoint.reissue_link()
    db.session.flush()
    return touchpoint


def _seed_contacts(user: User) -> None:
    today = date.today()

    priya, new = _contact(
        user,
        "Priya Shah",
        email="priya@shahfamilydental.example",
        phone="+1 555 0142",
        category="Dentist",
        engagement_start=today - timedelta(days=150),
        delivered_on=today - timedelta(days=user.first_touchpoint_days),
        terms_what_counts="A practice owner (dental, medical or veterinary) who has not had a "
        "second opinion on their taxes in the last two years.",
        terms_how_many=2,
        terms_in_return="A handwritten thank-you, and a donation to the charity of her choice "
        "for every introduction that becomes a client.",
    )
    if new:
        _touchpoint(
            user,
            priya,
            due_on=priya.delivered_on + timedelta(days=user.first_touchpoint_days),
            from_delivery=True,
            value_offered="We filed your amended 2025 return: the refund of $6,420 should "
            "reach your account within six weeks.",
        )
        db.session.add_all(
            ContactMoment(
                user_id=user.id,
                contact_id=priya.id,
                moment=moment,
                happened_on=priya.engagement_start + timedelta(days=offset),
                note=note,
            )
            for moment, offset, note in (
                (AdvocacyMoment.EXPECTATION, 0, "Said at the kick-off that I grow by referral."),
                (
                    AdvocacyMoment.INSIGHT,
                    60,
                    "Found a refund she didn't know about.",
                ),
            )
        )
        db.session.add(
            Connection(
                user_id=user.id,
                contact=priya,
                name="Dr. Elena Marsh",
                organisation="Marsh Pediatric Dentistry",
                how_known="You both sit on the state dental association's board.",
            )
        )

    tom, new = _contact(
        user,
        "Tom Becker",
        email="tom@riversidevet.example",
        phone="+1 555 0178",
        category="Veterinarian",
        engagement_start=today - timedelta(days=200),
        delivered_on=today - timedelta(days=125),
        terms_what_counts="A clinic owner who is thinking about buying or selling a practice.",
        terms_how_many=1,
        update_preference=UpdatePreference.MILESTONES,
    )
    if new:
        _touchpoint(
            user,
            tom,
            due_on=tom.delivered_on + timedelta(days=user.first_touchpoint_days),
            from_delivery=True,
            value_offered="Your second-quarter estimate is done, and it is $1,900 lower than "
            "last year's thanks to the equipment write-off.",
        )

    alicia, new = _contact(
        user,
        "Alicia Gómez",
        email="alicia@gomezortho.example",
        phone="+1 555 0113",
        category="Orthodontist",
        engagement_start=today - timedelta(days=300),
        delivered_on=today - timedelta(days=200),
        terms_what_counts="Any practice owner who complains about their tax bill.",
        terms_how_many=2,
        terms_in_return="Dinner for two at a restaurant of her choice.",
    )
    if new:
        answered = _touchpoint(
            user,
            alicia,
            due_on=alicia.delivered_on + timedelta(days=user.first_touchpoint_days),
            from_delivery=True,
            value_offered="We set up your new retirement plan: it cuts this year's tax by "
            "about $11,000.",
            state=TouchpointState.ANSWERED,
            sent_at=_at(110, 9),
            first_opened_at=_at(110, 18),
            answered_at=_at(109, 8),
        )
        _touchpoint(user, alicia, due_on=today + timedelta(days=45))
        kevin = _referral(
            user,
            alicia,
            answered,
            name="Dr. Kevin Park",
            email="kevin@parkdentalarts.example",
            phone="+1 555 0190",
            how_known="We trained together; he just opened his second office.",
            need="Wants to know how to pay himself from two practices without overpaying.",
            intro_method=IntroMethod.REFERRER_INTRODUCES,
            days_ago=109,
            steps=[
                (
                    ReferralStatus.CONTACTED,
                    106,
                    "Alicia introduced us by email; call booked.",
                    "I've reached out to Kevin. Thank you for the introduction!",
                ),
                (ReferralStatus.MEETING_SET, 101, "Meeting at his office on Tuesday.", ""),
                (
                    ReferralStatus.WON,
                    80,
                    "Signed for the full year.",
                    "Kevin is now a client. Thank you, Alicia: it means a lot.",
                ),
            ],
        )
        kevin.value_won = Decimal("4800.00")
        kevin.thanked_at = _at(80, 15)
        db.session.add(
            ReferralEvent(
                referral_id=kevin.id,
                user_id=user.id,
                kind=EventKind.THANKS,
                referrer_message="Thank you for introducing me to Kevin. Dinner is on me: "
                "pick the restaurant.",
                update_state=UpdateState.QUEUED,
                referrer_told_at=kevin.thanked_at,
                author=user.name,
                created_at=kevin.thanked_at,
            )
        )
        _referral(
            user,
            alicia,
            answered,
            name="Lena Fischer",
            email="lena@fischerphysio.example",
            how_known="Her physiotherapy clinic is next door to mine.",
            need="Bought the building last year and is not sure about depreciation.",
            intro_method=IntroMethod.MENTION_REFERRER,
            position=1,
            days_ago=109,
            steps=[
                (
                    ReferralStatus.CONTACTED,
                    104,
                    "Left a voicemail, then she called back.",
                    "I've been in touch with Lena. Thanks again!",
                ),
                (ReferralStatus.MEETING_SET, 20, "Coffee next week.", ""),
            ],
        )

    _contact(
        user,
        "Marcus Lee",
        email="marcus@leetechsupport.example",
        phone="+1 555 0155",
        kind=ContactKind.VENDOR,
        category="IT support",
        terms_what_counts="A practice that is changing hands or opening a new location.",
    )

    hannah, new = _contact(
        user,
        "Hannah Okafor",
        email="hannah@okaforlaw.example",
        phone="+1 555 0167",
        kind=ContactKind.COLLEAGUE,
        category="Estate planning attorney",
        terms_what_counts="Clients who need their estate plan and their taxes to agree.",
        terms_in_return="I send her clients who need a will or a trust.",
        update_preference=UpdatePreference.EVERY_STEP,
    )
    if new:
        _referral(
            user,
            hannah,
            None,
            name="Omar Haddad",
            email="omar@haddadeyecare.example",
            how_known="A client of mine who is planning to retire in three years.",
            need="Wants to sell his optometry practice with as little tax as possible.",
            intro_method=IntroMethod.MEET_TOGETHER,
            days_ago=3,
            steps=[],
        )

    _contact(
        user,
        "Sam Ellis",
        email="sam.ellis@mailbox.example",
        kind=ContactKind.FRIEND_FAMILY,
        category="Physiotherapist",
        update_preference=UpdatePreference.MILESTONES,
    )

    jordan, new = _contact(
        user,
        "Jordan Whitfield",
        email="jordan@brightkidspeds.example",
        phone="+1 555 0121",
        category="Practice manager",
        engagement_start=today - timedelta(days=40),
        terms_what_counts="Another practice manager who handles the books themselves.",
        terms_how_many=2,
    )
    if new:
        _touchpoint(
            user,
            jordan,
            due_on=today + timedelta(days=30),
            value_offered="Your payroll set-up is reviewed and the two errors are fixed.",
            auto_send=True,
        )

    _contact(
        user,
        "Grace Liu",
        email="grace@dentalstudyclub.example",
        kind=ContactKind.NETWORKING,
        category="Study club organiser",
        update_preference=UpdatePreference.NONE,
    )


def _seed_most_wanted(user: User) -> None:
    """The occupations in touch with the practice owners Morgan wants, once."""
    if db.session.scalar(sa.select(WantedCategory.id).where(WantedCategory.user_id == user.id)):
        return
    names = ["Estate planning attorney", "IT support", "Practice manager", "Banker", "Dentist"]
    db.session.add_all(
        WantedCategory(user_id=user.id, name=name, position=position)
        for position, name in enumerate(names)
    )


def _contact(user: User, name: str, **fields) -> tuple[Contact, bool]:
    """The demo user's contact of that name, created with ``fields`` if missing."""
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.user_id == user.id, Contact.name == name)
    )
    if contact is not None:
        return contact, False
    contact = Contact(user_id=user.id, name=name, user=user, **fields)
    db.session.add(contact)
    db.session.flush()
    return contact, True


def _touchpoint(user: User, contact: Contact, **fields) -> Touchpoint:
    fields.setdefault("value_offered", "")  # column defaults arrive only at INSERT
    touchpoint = Touchpoint(
        user_id=user.id, contact=contact, user=user, ask_count=user.ask_count, **fields
    )
    touchpoint.message = touchpoint.default_message()
    db.session.add(touchpoint)
    db.session.flush()
    return touchpoint


def _referral(
    user: User,
    contact: Contact,
    touchpoint: Touchpoint | None,
    *,
    days_ago: int,
    steps: list[tuple[ReferralStatus, int, str, str]],
    **fields,
) -> Referral:
    """A referral with its history: created, then each (status, days ago, note, told)."""
    created = _at(days_ago, 8)
    referral = Referral(
        user_id=user.id,
        contact_id=contact.id,
        touchpoint_id=touchpoint.id if touchpoint else None,
        consent_at=created,
        consent_notice_version=current_app.config["CONSENT_NOTICE_VERSION"],
        created_at=created,
        last_step_at=created,
        **fields,
    )
    db.session.add(referral)
    db.session.flush()
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            user_id=user.id,
            kind=EventKind.CREATED,
            to_status=ReferralStatus.NEW,
            author=contact.name,
            created_at=created,
        )
    )
    status = ReferralStatus.NEW
    for new_status, step_days_ago, note, told in steps:
        when = _at(step_days_ago, 14)
        db.session.add(
            ReferralEvent(
                referral_id=referral.id,
                user_id=user.id,
                kind=EventKind.STATUS,
                from_status=status,
                to_status=new_status,
                note=note,
                referrer_message=told,
                update_state=UpdateState.QUEUED if told else UpdateState.SKIPPED,
                referrer_told_at=when if told else None,
                author=user.name,
                created_at=when,
            )
        )
        status = new_status
        referral.last_step_at = when
    referral.status = status
    return referral


def _at(days_ago: int, hour: int) -> datetime:
    """A time of day some days back, in UTC."""
    return datetime.combine(date.today() - timedelta(days=days_ago), time(hour), tzinfo=UTC)
