"""Words the referrer's pages and emails share, in one place so they say the same thing.

Nothing here contains what anyone typed: templates put names next to these
sentences, so every piece stays escaped where it is rendered.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import ContactKind, IntroMethod, KindWording, ReferralStatus, UpdatePreference, User

_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

# What happens next for one person, said to the referrer ({pro}: the professional).
NEXT_STEP = {
    IntroMethod.REFERRER_INTRODUCES: "You'll introduce them to {pro}, by email or a call.",
    IntroMethod.MENTION_REFERRER: "{pro} will get in touch and mention you.",
    IntroMethod.DRAFT_FOR_REFERRER: "{pro} will send you a short introduction to forward.",
    IntroMethod.MEET_TOGETHER: "{pro} will suggest a time for the three of you to meet.",
}

# The same, in the professional's own voice (the thank-you email is signed by them).
NEXT_STEP_FIRST_PERSON = {
    IntroMethod.REFERRER_INTRODUCES: "You'll introduce us, by email or a call. Copy me in.",
    IntroMethod.MENTION_REFERRER: "I'll get in touch and mention you.",
    IntroMethod.DRAFT_FOR_REFERRER: "I'll send you a short introduction to forward.",
    IntroMethod.MEET_TOGETHER: "I'll suggest a time for the three of us to meet.",
}

UPDATES_PROMISE = {
    UpdatePreference.EVERY_STEP: "{pro} will tell you how it goes, step by step.",
    UpdatePreference.MILESTONES: "{pro} will tell you about the milestones, like a first meeting "
    "and how it turns out.",
    UpdatePreference.NONE: "You asked for no updates, so {pro} won't send any.",
}

UPDATES_PROMISE_FIRST_PERSON = {
    UpdatePreference.EVERY_STEP: "I'll tell you how it goes, step by step.",
    UpdatePreference.MILESTONES: "I'll tell you about the milestones, like a first meeting "
    "and how it turns out.",
    UpdatePreference.NONE: "You asked for no updates, so I won't send any.",
}


def first_name(user: User) -> str:
    """How the professional is called in running text: "Dana"."""
    name = user.name.strip()
    return name.split()[0] if name else name


def say_this(user: User) -> str:
    """The professional's one line as a whole sentence a referrer can repeat.

    "helps dental practices cut their tax bill" reads as "Dana Reyes helps ...";
    a value proposition written as a full sentence is left as it is.
    """
    return _as_sentence(user, user.value_proposition)


def _as_sentence(user: User, line: str | None) -> str:
    line = (line or "").strip()
    if not line:
        return ""
    if line[0].islower():
        line = f"{user.name} {line}"
    return line if line[-1] in ".!?" else f"{line}."


def count_words(n: int) -> str:
    """2 → "two": the ask reads as a sentence, not a form."""
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def the_ask(count: int, pro: str) -> str:
    """The explicit ask: people already talked to, not anyone they might know."""
    if count <= 1:
        return f"Who's the one person you've already talked to about working with {pro}?"
    people = f"{count_words(count)} people"
    return f"Who are the {people} you've already talked to about working with {pro}?"


# Where a person stands, as their referrer sees it ({pro}: the professional).
# Internal words ("no response", "not a fit") are softened: the referrer's
# friend may read over their shoulder.
REFERRER_STATUS = {
    ReferralStatus.NEW: "With {pro}",
    ReferralStatus.CONTACTED: "{pro} has been in touch",
    ReferralStatus.MEETING_SET: "Meeting arranged",
    ReferralStatus.WON: "Working with {pro}",
    ReferralStatus.NOT_A_FIT: "Not the right fit this time",
    ReferralStatus.NO_RESPONSE: "Waiting to hear back",
    ReferralStatus.ON_HOLD: "Paused for now",
}

# The pre-written update for each step, in the professional's voice ({name}: the
# person's first name). The professional edits it before it goes.
UPDATE_DRAFTS = {
    ReferralStatus.NEW: "",
    ReferralStatus.CONTACTED: "I've been in touch with {name}. Thank you again for putting "
    "us in contact.",
    ReferralStatus.MEETING_SET: "{name} and I have a meeting arranged. I'll let you know "
    "how it goes.",
    ReferralStatus.WON: "Good news: {name} is now a client. Thank you for trusting me with "
    "the introduction.",
    ReferralStatus.NOT_A_FIT: "{name} and I talked it through, and I'm not the right fit for "
    "what they need right now. Thank you all the same for thinking of me.",
    ReferralStatus.NO_RESPONSE: "I've reached out to {name} but haven't heard back yet. "
    "No pressure on them: they can reply whenever it suits.",
    ReferralStatus.ON_HOLD: "{name} and I have agreed to pick this up again later.",
}

THANKS_DRAFT = (
    "Thank you for introducing me to {name}. Introductions like yours are how my practice "
    "grows, and I don't take them for granted."
)

HEADS_UP_DRAFT = (
    "I wanted you to hear this from me first. With {name}, [what happened]. [What I did about it.]"
)

# Steps a referrer on "milestones only" hears about: the meeting and the outcome.
MILESTONES = frozenset({ReferralStatus.MEETING_SET, ReferralStatus.WON, ReferralStatus.NOT_A_FIT})


def tells_by_default(preference: UpdatePreference, status: ReferralStatus) -> bool:
    """Whether the referrer's preference asks to hear about a move to ``status``."""
    if status == ReferralStatus.NEW or preference == UpdatePreference.NONE:
        return False
    return preference == UpdatePreference.EVERY_STEP or status in MILESTONES


def person_first_name(name: str) -> str:
    return name.split()[0] if name.strip() else name


# How the ask is framed for each kind of source ({pro}: the professional's first
# name). A professional can replace any of these in Settings (KindWording).
ASK_FRAMING = {
    ContactKind.CLIENT: "Think of the people who've already asked you about this kind of "
    "help, or told you they need it. It takes about a minute, and {pro} will only get in "
    "touch the way you choose.",
    ContactKind.VENDOR: "You and {pro} look after some of the same businesses. When the "
    "people who serve a client know each other, that client is better served. Who do you "
    "work with that could use {pro}'s help?",
    ContactKind.SUPPLIER: "You and {pro} serve some of the same people. Which of your "
    "customers has mentioned needing the kind of help {pro} gives?",
    ContactKind.COLLEAGUE: "Your clients sometimes need help that sits next to your "
    "specialty. Who has come to you lately needing what {pro} does?",
    ContactKind.FRIEND_FAMILY: "Has anyone mentioned needing help like this? A name and a "
    "way to reach them is plenty.",
    ContactKind.NETWORKING: "Think of the people who've mentioned needing this kind of help. "
    "{pro} will only get in touch the way you choose.",
    ContactKind.OTHER: "Think of the people who've already asked you about this kind of "
    "help. {pro} will only get in touch the way you choose.",
}


def kind_wording(user: User, kind: ContactKind) -> KindWording | None:
    """The professional's own words for this kind of source, if they wrote any."""
    return db.session.scalar(
        sa.select(KindWording).where(KindWording.user_id == user.id, KindWording.kind == kind)
    )


def ask_framing(user: User, kind: ContactKind, own: KindWording | None) -> str:
    """The lead under the ask: the professional's words for this kind, or the default."""
    text = (own.ask_framing if own else "").strip()
    return text or ASK_FRAMING[kind].format(pro=first_name(user))


def words_to_say(user: User, own: KindWording | None) -> tuple[str, str]:
    """(one line, forwardable blurb) for this kind of source: its own, else the defaults."""
    line = (own.value_proposition if own else "").strip() or user.value_proposition
    blurb = (own.blurb if own else "").strip() or user.blurb
    return _as_sentence(user, line), (blurb or "").strip()
