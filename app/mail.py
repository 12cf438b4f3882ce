"""The one email path: compose from templates, queue in the outbox, deliver over SMTP.

``queue_email`` adds an OutboundEmail row to the current session and never
commits: the email is written in the same transaction as the change that caused
it, or not at all. ``deliver_outbox`` (the ``outbox deliver`` command) sends
what is due, outside any request.
"""

from __future__ import annotations

import base64
import functools
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.errors import MessageError
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

import sqlalchemy as sa
from flask import current_app

from .extensions import db
from .models import Contact, EmailState, OutboundEmail, utcnow

# C0 and C1 control characters, line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_safe(value: str, limit: int = 200) -> str:
    """Text fit for a header: one line, no control characters, no encoded words.

    Python's email package has let CR/LF in display names, and RFC 2047 encoded
    words that decode to line breaks, add headers (CVE-2024-6923 and relatives).
    We neither trust nor need either.
    """
    value = _CONTROL.sub(" ", value or "")
    value = value.replace("=?", "= ?").replace("?=", "? =")
    return " ".join(value.split())[:limit]


def render_email(template: str, subject: str, **context) -> tuple[str, str]:
    """The text and HTML bodies of ``email/<template>``.

    Templates are autoescaped (.html) or plain text (.txt); whatever a client
    typed stays text in both.
    """
    context.setdefault("subject", subject)
    # The environment alone, without Flask's context processors: an email reads only
    # what it is given, never the request or who is signed in, so it comes out the
    # same from a page and from a CLI job (and four renders per answer cost less).
    environment = current_app.jinja_env
    return (
        environment.get_template(f"email/{template}.txt").render(context),
        environment.get_template(f"email/{template}.html").render(context),
    )


@functools.lru_cache(maxsize=8)
def _domain_of(sender: str) -> str:
    """The domain of the sender's address (Message-IDs end with it), read once."""
    return parseaddr(sender)[1].rpartition("@")[2]


def compose_email(
    template: str,
    *,
    to_email: str,
    to_name: str = "",
    subject: str,
    user_id: int | None = None,
    contact_id: int | None = None,
    reply_to: str = "",
    unsubscribe_url: str = "",
    batch_key: str | None = None,
    send_after: datetime | None = None,
    **context,
) -> dict:
    """Render ``email/<template>.txt`` and ``.html``: the email as its outbox row.

    The row (column name to value, the same keys for every email) goes in with
    ``queue_email``'s unit of work or ``insert_rows``' one INSERT. ``unsubscribe_url``
    adds the one-click unsubscribe headers (and reaches the templates);
    ``send_after`` holds the email back.
    """
    body_text, body_html = render_email(
        template, subject, unsubscribe_url=unsubscribe_url, **context
    )
    sender_domain = _domain_of(current_app.config["MAIL_DEFAULT_SENDER"])
    return {
        "template": template,
        "to_email": to_email.strip(),
        "to_name": header_safe(to_name, 160),
        "reply_to": reply_to.strip(),
        "subject": header_safe(subject, 255),
        "body_text": body_text,
        "body_html": body_html,
        "message_id": make_msgid(domain=sender_domain or "referloop.localhost"),
        "user_id": user_id,
        "contact_id": contact_id,
        "unsubscribe_url": unsubscribe_url,
        "batch_key": batch_key,
        "next_attempt_at": send_after or utcnow(),
    }


def queue_email(template: str, **fields) -> OutboundEmail:
    """``compose_email``, added to the outbox in the session; the caller commits."""
    return add_to_outbox(compose_email(template, **fields))


def add_to_outbox(row: dict) -> OutboundEmail:
    """A composed email (``compose_email``) added to the session; the caller commits."""
    email = OutboundEmail(**row)
    db.session.add(email)
    return email


def insert_rows(rows: list[dict], connection: sa.Connection | None = None) -> None:
    """Write composed emails (``compose_email``) as one INSERT, on ``connection``
    (by default the session's, in its transaction); the columns not set get their
    defaults.

    For a view that writes everything else as plain statements (the referrer's
    form), where the unit of work would cost several times the statement.
    """
    if rows:
        (connection or db.session.connection()).execute(_insert_emails(), rows)


@functools.cache
def _insert_emails() -> sa.Insert:
    return OutboundEmail.__table__.insert()


class InvalidAddress(ValueError):
    """An address that cannot go into a header or an SMTP envelope as it is."""


@dataclass(frozen=True)
class Mailbox:
    """A checked address (see ``_mailbox``): the display name and the ASCII addr-spec."""

    display_name: str
    addr_spec: str


# The everyday address (dot-atom local part, LDH labels): accepted without the email
# package's parser. It is a strict subset of what that parser accepts, and it is
# ASCII, one line, with no room for a comma or a second address.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


def _mailbox(addr_spec: str, display_name: str = "", *, role: str = "recipient") -> Mailbox:
    """A checked address: exactly one mailbox, no line breaks, ASCII on the wire.

    A bad address is a permanent failure for that email, never a way to add a
    header or a recipient.
    """
    addr_spec = (addr_spec or "").strip()
    display_name = header_safe(display_name)
    if _PLAIN_ADDRESS.fullmatch(addr_spec):
        return Mailbox(display_name, addr_spec)
    if not addr_spec or _CONTROL.search(addr_spec):
        raise InvalidAddress(f"Invalid {role} address {addr_spec!r}")
    local, _, domain = addr_spec.rpartition("@")
    try:
        if domain and not domain.isascii():
            domain = domain.encode("idna").decode("ascii")
        if not local.isascii():
            raise InvalidAddress(
                f"The {role} address {addr_spec!r} has a non-ASCII local part "
                "(not supported: SMTPUTF8)"
            )
        address = Address(display_name=display_name, addr_spec=f"{local}@{domain}")
    except (ValueError, UnicodeError, MessageError) as exc:
        raise InvalidAddress(f"Invalid {role} address {addr_spec!r}") from exc
    if not address.username or not address.domain:
        raise InvalidAddress(f"Invalid {role} address {addr_spec!r}")
    return Mailbox(display_name, address.addr_spec)


CRLF = "\r\n"


def message_bytes(email: OutboundEmail, now: datetime | None = None) -> tuple[bytes, str]:
    """One outbox row exactly as the sender sends it, and its envelope recipient."""
    return _wire(email, now or utcnow(), default_sender())


def build_message(email: OutboundEmail, now: datetime | None = None) -> Message:
    """The message for one outbox row, parsed back from the bytes ``_wire`` sends
    (written out again, its headers stay as they were sent)."""
    data = message_bytes(email, now)[0]
    return message_from_bytes(data, policy=policy.default.clone(refold_source="none"))


def default_sender() -> Mailbox:
    """The checked From address (``MAIL_DEFAULT_SENDER``)."""
    sender_name, sender_addr = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return _mailbox(sender_addr, sender_name, role="sender")


def _wire(email, now: datetime, sender: Mailbox) -> tuple[bytes, str]:
    """One outbox row as it goes over SMTP (CRLF line ends), and its envelope
    recipient; the same Message-ID on every attempt.

    Raises InvalidAddress when the sender, recipient or Message-ID cannot be used
    as it is; an unusable Reply-To is only left out.

    Every email has one shape (a text part, and usually an HTML alternative, both
    UTF-8 in base64), and every header value has been checked (``_mailbox``) or
    cleaned (``header_safe``) and is ASCII on one line, so the message is written
    out directly. The email package's generator cost more than the SMTP
    conversation itself; its parser reads these bytes back in the tests
    (``build_message``).
    """
    message_id = email.message_id or ""
    if not message_id.isascii() or _CONTROL.search(message_id) or " " in message_id:
        raise InvalidAddress(f"Invalid Message-ID {message_id!r}")
    recipient = _mailbox(email.to_email, email.to_name)
    headers = [f"From: {_header_address(sender)}", f"To: {_header_address(recipient)}"]
    if email.reply_to:
        # Replies are a convenience: an unusable Reply-To is left out, the email still goes.
        try:
            reply_to = _mailbox(email.reply_to, role="Reply-To")
            headers.append(f"Reply-To: {_header_address(reply_to)}")
        except InvalidAddress as exc:
            current_app.logger.warning("Outbox email %s: Reply-To left out: %s", email.id, exc)
    subject = header_safe(email.subject, 255)
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode(linesep=CRLF)
    headers += [
        f"Subject: {subject}",
        f"Date: {format_datetime(now, usegmt=True)}",
        f"Message-ID: {message_id}",
    ]
    unsubscribe = email.unsubscribe_url or ""
    if unsubscribe and unsubscribe.isascii() and not _CONTROL.search(unsubscribe):
        # RFC 8058: mail clients offer "unsubscribe", which POSTs to this address.
        headers += [
            f"List-Unsubscribe: <{unsubscribe}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
    if email.body_html:
        # "=_" never occurs in base64, so the boundary cannot collide with a body.
        boundary = f"=_{uuid.uuid4().hex}"
        head = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
        body = (
            f"--{boundary}{CRLF}{_text_part('plain', email.body_text)}{CRLF}"
            f"--{boundary}{CRLF}{_text_part('html', email.body_html)}{CRLF}"
            f"--{boundary}--{CRLF}"
        )
    else:
        head = [
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: base64",
        ]
        body = _base64(email.body_text)
    message = CRLF.join(head + headers) + CRLF + CRLF + body
    return message.encode("ascii"), recipient.addr_spec


def _text_part(subtype: str, text: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{_base64(text)}"
    )


def _base64(text: str) -> str:
    """UTF-8 text in base64, in lines of 76 characters each ending in CRLF."""
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", CRLF)


def _header_address(address: Mailbox) -> str:
    """A checked mailbox as header text; a non-ASCII display name as an encoded word."""
    return formataddr((address.display_name, address.addr_spec), charset="utf-8")


# Delivery -----------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one ``deliver_outbox`` run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    configured: bool = True  # False: no MAIL_SERVER, nothing was tried
    waiting: int = 0  # queued emails, counted only when there is no server
    retried_ids: set[int] = field(default_factory=set, repr=False)

    def count(self, state: EmailState, email_id: int) -> None:
        if state == EmailState.SENT:
            self.sent += 1
        elif state == EmailState.QUEUED:
            self.retrying += 1
            self.retried_ids.add(email_id)
        elif state == EmailState.FAILED:
            self.failed += 1

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def summary(self) -> str:
        return f"Sent {self.sent}, will retry {self.retrying}, failed {self.failed}."


@dataclass
class _Claimed:
    """One claimed email, read before the claim commits so sending needs no database."""

    id: int
    attempts: int
    lease: datetime  # our claimed_until: it also marks the claim as ours
    row: sa.Row | None = None  # what the message is built from (_BUILT_FROM)
    error: str = ""  # why it cannot be sent; a permanent failure


def deliver_outbox(limit: int | None = None, now: datetime | None = None) -> DeliveryReport:
    """Send the emails that are due over SMTP, one connection per batch.

    Safe to run from several processes or machines at once: each batch is
    claimed atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock
    of ``BEGIN IMMEDIATE`` on SQLite) and every outcome is committed as soon as
    it is known. An email that fails for a temporary reason comes back in a
    later run, never twice in one. ``now`` fixes the clock (tests).
    """
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        waiting = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.state == EmailState.QUEUED)
        )
        db.session.rollback()
        return DeliveryReport(configured=False, waiting=waiting or 0)

    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    report = DeliveryReport()
    while limit is None or report.attempted < limit:
        size = config["OUTBOX_BATCH_SIZE"]
        if limit is not None:
            size = min(size, limit - report.attempted)
        # Emails retried in this run wait for a later run, even with no backoff.
        batch = _claim(size, clock(), exclude=report.retried_ids)
        if not batch:
            break
        if not _send_batch(batch, report, clock) or len(batch) < size:
            break
    return report


def _due(now: datetime):
    return sa.or_(
        sa.and_(OutboundEmail.state == EmailState.QUEUED, OutboundEmail.next_attempt_at <= now),
        # A sender killed mid-batch leaves its claims behind; they lapse with the lease.
        sa.and_(OutboundEmail.state == EmailState.SENDING, OutboundEmail.claimed_until < now),
    )


def _claim(size: int, now: datetime, exclude: set[int]) -> list[_Claimed]:
    """Claim up to ``size`` due emails for this sender, read them, and commit."""
    lease = now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    candidates = (
        sa.select(OutboundEmail.id)
        .where(_due(now))
        .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        candidates = candidates.where(OutboundEmail.id.not_in(exclude))
    # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
    # LOCKED): PostgreSQL may run that subquery once per row of a nested-loop semi
    # join, each run skipping the rows already taken, and claim far more than n.
    # The rows stay locked (PostgreSQL) or the database stays ours (SQLite's BEGIN
    # IMMEDIATE) until the claim commits; the repeated condition is a safety net.
    candidate_ids = db.session.scalars(candidates).all()
    if not candidate_ids:
        db.session.commit()
        return []
    ids = db.session.scalars(
        sa.update(OutboundEmail)
        .where(OutboundEmail.id.in_(candidate_ids), _due(now))
        .values(state=EmailState.SENDING, claimed_until=lease)
        .returning(OutboundEmail.id),
        execution_options={"synchronize_session": False},
    ).all()
    if not ids:
        db.session.commit()
        return []
    # Plain rows of what a message is built from, read before the claim commits; the
    # messages are built after it, so the write lock (SQLite) or the row locks
    # (PostgreSQL) are held only for the claim.
    emails = db.session.execute(
        sa.select(*(getattr(OutboundEmail, name) for name in _BUILT_FROM))
        .where(OutboundEmail.id.in_(ids))
        .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id)
    ).all()
    unsubscribed = _unsubscribed_contacts(emails)
    db.session.commit()
    batch = []
    for email in emails:
        item = _Claimed(id=email.id, attempts=email.attempts, lease=lease, row=email)
        if email.unsubscribe_url and email.contact_id in unsubscribed:
            # Queued before they unsubscribed (or retried by hand since): not sent.
            item.error = "Not sent: the recipient has unsubscribed"
        batch.append(item)
    return batch


# What a message is built from: the columns _claim reads before committing.
_BUILT_FROM = (
    "id",
    "attempts",
    "contact_id",
    "to_email",
    "to_name",
    "reply_to",
    "subject",
    "body_text",
    "body_html",
    "message_id",
    "unsubscribe_url",
)


def _unsubscribed_contacts(emails) -> set[int]:
    """Which of these emails' contacts have unsubscribed, in one query."""
    ids = {email.contact_id for email in emails if email.unsubscribe_url and email.contact_id}
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Contact.id).where(Contact.id.in_(ids), Contact.unsubscribed_at.is_not(None))
        )
    )


def _send_batch(batch: list[_Claimed], report: DeliveryReport, clock) -> bool:
    """Send a claimed batch over one connection; False when the run should stop."""
    config = current_app.config
    try:
        sender = default_sender()
    except InvalidAddress as exc:
        for item in batch:
            item.error = item.error or str(exc)
    outgoing = []
    for item in batch:
        if item.error:
            state = _record_failure(item, item.error, temporary=False, when=clock())
            report.count(state, item.id)
        else:
            outgoing.append(item)
    if not outgoing:
        return True

    try:
        smtp = _connect()
    except (smtplib.SMTPException, OSError) as exc:
        _give_back(outgoing, _describe(exc)[1], report, clock())
        return False

    reconnected = False
    sent: list[_Claimed] = []  # accepted by the server, not yet recorded
    sent_since = time.monotonic()
    built_at = clock()
    # Stop before the lease runs out, leaving time for the email in flight.
    margin = timedelta(seconds=min(config["MAIL_TIMEOUT"], config["OUTBOX_LEASE_SECONDS"] / 2))
    index = 0
    try:
        while index < len(outgoing):
            item = outgoing[index]
            if clock() + margin >= item.lease:
                # Slow server: past the lease another sender may take these over.
                for rest in outgoing[index:]:
                    _finish(rest, state=EmailState.QUEUED, claimed_until=None)
                current_app.logger.warning("Outbox lease ran out; released the rest of a batch.")
                return False
            try:
                data, recipient = _wire(item.row, built_at, sender)
            except InvalidAddress as exc:
                report.count(_record_failure(item, str(exc), False, clock()), item.id)
                index += 1
                continue
            try:
                smtp.sendmail(sender.addr_spec, [recipient], data)
            except (smtplib.SMTPException, OSError) as exc:
                if not _connection_lost(exc):
                    temporary, reason = _describe(exc)
                    report.count(_record_failure(item, reason, temporary, clock()), item.id)
                    index += 1
                    continue
                smtp.close()
                if not reconnected:
                    # Servers drop long sessions (or after N messages): one fresh
                    # connection for the rest, starting with this email again.
                    reconnected = True
                    try:
                        smtp = _connect()
                        continue
                    except (smtplib.SMTPException, OSError) as again:
                        exc = again
                _give_back(outgoing[index:], _describe(exc)[1], report, clock())
                return False
            else:
                report.count(EmailState.SENT, item.id)
                sent.append(item)
                index += 1
                if len(sent) >= SENT_PER_COMMIT or time.monotonic() - sent_since >= SENT_MAX_WAIT:
                    _record_sent(sent, clock())
                    sent_since = time.monotonic()
    finally:
        _record_sent(sent, clock())
        _quit(smtp)
    return True


# Emails the server accepted are marked sent together, up to this many (or this many
# seconds' worth) per commit: a commit per email cost more than sending it. A sender
# killed between the two leaves at most this many to be sent again once their lease
# runs out (delivery is at least once either way).
SENT_PER_COMMIT = 25
SENT_MAX_WAIT = 2.0


def _record_sent(items: list[_Claimed], when: datetime) -> None:
    """Mark emails the server accepted as sent, in one statement and one commit, and
    empty the list. Only rows whose claim is still ours change."""
    if not items:
        return
    db.session.execute(
        sa.update(OutboundEmail)
        .where(
            OutboundEmail.id.in_([item.id for item in items]),
            OutboundEmail.state == EmailState.SENDING,
            OutboundEmail.claimed_until == items[0].lease,
        )
        .values(
            state=EmailState.SENT,
            sent_at=when,
            attempts=OutboundEmail.attempts + 1,
            claimed_until=None,
        ),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    items.clear()


def _connect() -> smtplib.SMTP:
    """One SMTP session as configured: implicit TLS or STARTTLS, and login."""
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], int(config["MAIL_PORT"]), config["MAIL_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        context = ssl.create_default_context()
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _connection_lost(exc: BaseException) -> bool:
    """The session is gone (as opposed to the server refusing one email)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def _describe(exc: BaseException) -> tuple[bool, str]:
    """(temporary?, a short reason a person can read) for a failed attempt."""
    config = current_app.config
    server = f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values()) or [(-1, b"recipient refused")]
        temporary = all(400 <= code < 500 for code, _ in replies)
        return temporary, _reply(*replies[0])
    if isinstance(exc, smtplib.SMTPResponseException):
        return not 500 <= exc.smtp_code < 600, _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read that timed out as a disconnection.
        if isinstance(exc.__cause__ or exc.__context__, TimeoutError):
            return True, f"No answer from {server} within {config['MAIL_TIMEOUT']} s"
        return True, f"{server} closed the connection"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False, _oneline(str(exc))
    if isinstance(exc, smtplib.SMTPException):
        return True, _oneline(str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return True, f"Connection refused by {server}"
    if isinstance(exc, TimeoutError):
        return True, f"No answer from {server} within {config['MAIL_TIMEOUT']} s"
    if isinstance(exc, ssl.SSLError):
        return True, _oneline(f"TLS with {server} failed: {exc.reason or exc}")
    return True, _oneline(f"Could not reach {server}: {getattr(exc, 'strerror', None) or exc}")


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _oneline(f"{code} {text}")


def _oneline(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())[:500]


def _give_back(items: list[_Claimed], reason: str, report: DeliveryReport, when) -> None:
    """The server could not be reached: every email in hand waits for a retry."""
    current_app.logger.warning("Outbox: %s; %d emails will be retried.", reason, len(items))
    for item in items:
        report.count(_record_failure(item, reason, temporary=True, when=when), item.id)


def _record_failure(item: _Claimed, reason: str, temporary: bool, when: datetime) -> EmailState:
    """Count a failed attempt: back to the queue with a backoff, or failed for good."""
    config = current_app.config
    attempts = item.attempts + 1
    if temporary and attempts < config["OUTBOX_MAX_ATTEMPTS"]:
        delay = min(
            config["OUTBOX_RETRY_MAX_SECONDS"],
            config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1),
        )
        state = EmailState.QUEUED
        next_attempt_at = when + timedelta(seconds=delay)
    else:
        state, next_attempt_at = EmailState.FAILED, None
        if temporary:
            reason = f"{reason} (gave up after {attempts} attempts)"
        current_app.logger.warning("Outbox email %s failed: %s", item.id, reason)
    values = {"state": state, "attempts": attempts, "last_error": reason, "claimed_until": None}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    _finish(item, **values)
    return state


def _finish(item: _Claimed, **values) -> None:
    """Write one outcome and commit, only while the claim is still ours."""
    db.session.execute(
        sa.update(OutboundEmail)
        .where(
            OutboundEmail.id == item.id,
            OutboundEmail.state == EmailState.SENDING,
            OutboundEmail.claimed_until == item.lease,
        )
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
