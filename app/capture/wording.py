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


# Settings, "Words for each kind of source": who each kind is, and the spirit of its ask.
KIND_WORDING_NOTES = {
    ContactKind.CLIENT: (
        "Clients",
        "People you've worked for. Ask about the people they've already talked to about you.",
    ),
    ContactKind.VENDOR: (
        "Vendors",
        "Other businesses that serve your clients. The ask is about serving the client you "
        "share better, not a favour.",
    ),
    ContactKind.SUPPLIER: (
        "Suppliers",
        "Businesses you buy from. They meet many people who could need you.",
    ),
    ContactKind.COLLEAGUE: (
        "Colleagues",
        "People in a specialty next to yours. Ask about their clients who need yours.",
    ),
    ContactKind.FRIEND_FAMILY: (
        "Friends and family",
        "People who know you personally. Keep it warm and short.",
    ),
    ContactKind.NETWORKING: (
        "Networking contacts",
        "People you've met through groups and events.",
    ),
    ContactKind.OTHER: ("Everyone else", "Any source that fits none of the kinds above."),
}


# "Draft an introduction for me to send" (app/capture/drafts.py). The starting
# draft is in the referrer's voice, to the person they introduce ({person}: that
# person's first name; {pro}: the professional's full name, {pro_first} their
# first name; {referrer}: the referrer's first name). The professional edits it
# before the referrer sees it.
INTRO_DRAFT_SUBJECT = "Introducing {pro} and {person}"
INTRO_DRAFT_GREETING = "Hi {person},"
INTRO_DRAFT_OPENING = "I'd like to introduce you to {pro}{business}."
INTRO_DRAFT_BUSINESS = " of {business}"
INTRO_DRAFT_NEED = (
    "I thought of {pro_first} straight away when we talked about what you're looking for: {need}"
)
INTRO_DRAFT_NO_NEED = "I thought of {pro_first} straight away when we last talked."
INTRO_DRAFT_REACH = (
    "You can reach {pro_first} at {email}. I think a short conversation would be well worth "
    "your time."
)
INTRO_DRAFT_REACH_NO_EMAIL = "I think a short conversation would be well worth your time."
INTRO_DRAFT_SIGN_OFF = "Best wishes,\n{referrer}"

# What the referrer is told when the draft is ready, in the professional's voice
# ({name}: the person's first name).
DRAFT_READY = (
    "I've written the introduction to {name} for you to send. It's on your page: change "
    "anything you like, then send it from your own email, or copy it."
)
DRAFT_UPDATED = (
    "I've updated the introduction to {name}. It's on your page, ready to change and send "
    "from your own email."
)
# When the referrer has no working link to open, the draft itself goes in the update.
DRAFT_READY_IN_EMAIL = (
    "I've written the introduction to {name} for you to send. Here it is, ready to copy "
    "into an email to {name}:"
)


# The referrer's form: named questions, vendors, agreed terms and words to forward.


def named_question(pro: str, name: str, organisation: str = "") -> str:
    """The named ask: "Would you be comfortable introducing Dana to David Jones at Acme?"."""
    who = f"{name.strip()} at {organisation.strip()}" if organisation.strip() else name.strip()
    return f"Would you be comfortable introducing {pro} to {who}?"


# What the thank-you page says about an answer that was not a yes ({pro}, {name}),
# keyed by ConnectionStatus value.
NAMED_OUTCOME = {
    "not_now": "Not now, and that's fine. {pro} won't ask about {name} again for a while.",
    "dont_know_well": "Thanks for saying so. {pro} won't ask you about {name} again.",
}

VENDORS_HEADING = "Who else helps run your business?"
VENDORS_LEAD = (
    "Your accountant, your IT people, your lawyer: when the people who look after your "
    "business know each other, you're better served. {pro} will get in touch with them "
    "and mention you."
)


def _clause(text: str | None) -> str:
    """A typed phrase made ready for the middle of a sentence.

    Surrounding spaces and a final full stop go; a first word that is simply
    capitalised ("Someone ...") is lowercased, but not "I" or an acronym ("SaaS").
    """
    text = " ".join((text or "").split()).rstrip(" .;,:")
    first = text.split(" ", 1)[0] if text else ""
    simply_capitalised = first[:1].isupper() and (first[1:].islower() or len(first) == 1)
    if first.isalpha() and simply_capitalised and first != "I":
        text = text[0].lower() + text[1:]
    return text


# A "what you give in return" that starts with one of these is a promise ("send you
# the quarterly review"), not a thing ("a free review").
_PROMISE_VERBS = frozenset(
    {
        "add", "arrange", "book", "bring", "buy", "call", "check", "cover", "do", "donate",
        "extend", "give", "help", "host", "include", "introduce", "invite", "keep", "make",
        "offer", "pay", "provide", "put", "recommend", "refer", "run", "send", "share", "take",
        "thank", "treat", "waive", "write",
    }
)  # fmt: skip
_FIRST_PERSON = frozenset(
    {
        "i", "i'll", "i’ll", "i'd", "i’d", "i'm", "i’m", "me", "my", "mine",
        "we", "we'll", "we’ll", "our", "us",
    }
)  # fmt: skip


def _in_return(text: str | None, pro: str) -> tuple[str, bool]:
    """What the referrer gets, as the end of a sentence; and whether it already ends it.

    "a free review" → "you get a free review"; "send you a review" → "Dana will send
    you a review"; the professional's own first-person words are quoted as theirs.
    """
    give = _clause(text)
    if not give:
        return "", False
    words = give.lower().split()
    if any(word.strip(",;:!?") in _FIRST_PERSON for word in words):
        quoted = give[0].upper() + give[1:]
        return f"{pro} promised: “{quoted}.”", True
    if words[0] in _PROMISE_VERBS:
        return f"{pro} will {give}", False
    return f"you get {give}", False


def terms_reminder(contact, pro: str) -> str:
    """One sentence reminding the referrer what was agreed, or "" when nothing was.

    Plain text (the template escapes it). Written for every combination of the
    three terms: what counts, how many, and what the referrer gets in return.
    """
    what = _clause(contact.terms_what_counts)
    count = contact.terms_how_many or 0
    back, ends = _in_return(contact.terms_in_return, pro)
    stop = "" if ends else "."
    hoped = ""
    if count > 0:
        many = count_words(count)
        plural = "s" if count != 1 else ""
        hoped = (
            f"{pro} hoped for {many}" if what else f"{pro} hoped for {many} introduction{plural}"
        )
    if hoped and back.startswith(f"{pro} "):
        back = back[len(pro) + 1 :]  # "Dana hoped for two, and in return will send you ..."
    if what and hoped and back:
        return f"As we agreed, an introduction is {what}; {hoped}, and in return {back}{stop}"
    if what and hoped:
        return f"As we agreed, an introduction is {what}, and {hoped}."
    if what and back:
        return f"As we agreed, an introduction is {what}, and in return {back}{stop}"
    if hoped and back:
        return f"As we agreed, {hoped}, and in return {back}{stop}"
    if what:
        return f"As we agreed, an introduction is {what}."
    if hoped:
        return f"As we agreed, {hoped}."
    if back:
        return f"As we agreed, in return for your introductions {back}{stop}"
    return ""


def forward_subject(user: User) -> str:
    """The subject of the "forward by email" message the referrer sends a friend."""
    business = user.business_name.strip()
    return f"Meet {user.name}" + (f" of {business}" if business else "")
