"""Every signed link Referloop makes or reads.

A link's payload holds ids and a version, never names or emails. Each purpose has
its own salt (a token for one purpose is worthless for another) and its own
lifetime. Keys are tried newest first but given oldest to newest
(``[*SECRET_KEY_FALLBACKS, SECRET_KEY]``), which is what itsdangerous expects:
the last key signs, all of them verify, so a key can be rotated without
breaking links already sent.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin
from sqlalchemy.orm import joinedload

from .extensions import db
from .helpers import external_url
from .models import Contact, Touchpoint
from .records import link_records

CLIENT_LINK_SALT = "referloop.client-link.v1"
UNSUBSCRIBE_SALT = "referloop.unsubscribe.v1"
LINK_FORM_SALT = "referloop.link-form.v1"


class LinkState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    REPLACED = "replaced"  # revoked or reissued since this link was made
    INVALID = "invalid"  # tampered, unknown, or for a touchpoint that is gone


@dataclass(frozen=True)
class ClientLink:
    state: LinkState
    # A Touchpoint (read_client_link) or a read-only TouchpointRecord (show_client_link).
    touchpoint: Touchpoint | None = None


def _keys() -> tuple[str, ...]:
    config = current_app.config
    # Flask sets SECRET_KEY_FALLBACKS to None by default, hence the "or".
    return (*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"])


# Serializers and signers are made once per set of keys and purpose: every
# referrer's request reads a link and signs its form token.


class _KeptKeys:
    """An itsdangerous signer that derives each key once (itsdangerous derives it
    again for every signature it makes or checks)."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self.__dict__.setdefault("_derived_keys", {})
        key = derived.get(secret_key)
        if key is None:
            key = derived[secret_key] = super().derive_key(secret_key)
        return key


class _LinkFormSigner(_KeptKeys, Signer):
    pass


class _TimestampSigner(_KeptKeys, TimestampSigner):
    pass


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, with its tokens unchanged, that keeps
    its signer, and does not try to compress our tiny payloads (ids and a version:
    zlib never makes them shorter, so itsdangerous sends them as they are anyway,
    but setting up zlib cost more than the rest of making a token)."""

    signer = _TimestampSigner
    _TOO_SHORT_TO_SHRINK = 64  # bytes of JSON

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._signers: dict = {}

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj) -> bytes:
        json = super(URLSafeSerializerMixin, self).dump_payload(obj)
        if len(json) < self._TOO_SHORT_TO_SHRINK:
            return base64_encode(json)
        return super().dump_payload(obj)


@functools.lru_cache(maxsize=32)
def _serializer_for(keys: tuple[str, ...], salt: str) -> URLSafeTimedSerializer:
    return _Serializer(list(keys), salt=salt)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return _serializer_for(_keys(), salt)


def client_link_token(touchpoint: Touchpoint) -> str:
    """The token of the touchpoint's current link."""
    payload = {"t": touchpoint.id, "v": touchpoint.link_version}
    return _serializer(CLIENT_LINK_SALT).dumps(payload)


def client_link_url(touchpoint: Touchpoint) -> str:
    """The absolute address of the touchpoint's current link, for emails and copying."""
    return external_url("capture.form", token=client_link_token(touchpoint))


@functools.cache
def _link_query() -> sa.Select:
    """The touchpoint of a link, with what every link page needs: the professional,
    the contact and the professional's words for that kind of contact, in one query.
    Built once: every referrer's request runs it."""
    return (
        sa.select(Touchpoint)
        .where(Touchpoint.id == sa.bindparam("id"))
        .options(
            joinedload(Touchpoint.user),
            joinedload(Touchpoint.contact).joinedload(Contact.own_wording),
        )
    )


def read_client_link(token: str) -> ClientLink:
    """Verify a client link and say what state it is in, with its touchpoint as
    ORM objects: for the views that write.

    Reading never changes anything: mail scanners open links too.
    """
    return _client_link(
        token, lambda touchpoint_id: db.session.scalar(_link_query(), {"id": touchpoint_id})
    )


def show_client_link(token: str) -> ClientLink:
    """The same, with the touchpoint as a read-only record (records.py), read on
    ``reading_connection()``: for the pages that only show, where the ORM's
    objects cost more than the query, and for the referrer's form, whose every
    write is a plain statement that checks again what it relies on
    (``capture.routes.submit``)."""
    return _client_link(token, link_records)


def _client_link(token: str, load) -> ClientLink:
    """The link's state, and its touchpoint as ``load(touchpoint_id)`` gives it."""
    serializer = _serializer(CLIENT_LINK_SALT)
    max_age = current_app.config["CLIENT_LINK_MAX_AGE"]
    expired = False
    try:
        payload = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        # The signature is genuine, only old: we may still say whose link it was.
        expired = True
        try:
            payload = serializer.load_payload(exc.payload)
        except BadSignature:
            return ClientLink(LinkState.INVALID)
    except BadSignature:
        return ClientLink(LinkState.INVALID)

    if not isinstance(payload, dict):
        return ClientLink(LinkState.INVALID)
    touchpoint_id, version = payload.get("t"), payload.get("v")
    if not isinstance(touchpoint_id, int) or not isinstance(version, int):
        return ClientLink(LinkState.INVALID)
    touchpoint = load(touchpoint_id)
    if touchpoint is None or version > touchpoint.link_version:
        return ClientLink(LinkState.INVALID)
    if version < touchpoint.link_version or not touchpoint.link_active:
        return ClientLink(LinkState.REPLACED, touchpoint)
    if expired:
        return ClientLink(LinkState.EXPIRED, touchpoint)
    return ClientLink(LinkState.VALID, touchpoint)


# The CSRF token of a referrer's pages: a signature of the link's own token, so
# it is bound to that link and needs no cookie. The link is the credential;
# this only proves a POST came from a page of the same link, and it works for
# as long as the link does (see capture/__init__.py, which checks it).


@functools.lru_cache(maxsize=8)
def _link_form_signer_for(keys: tuple[str, ...]) -> Signer:
    return _LinkFormSigner(list(keys), salt=LINK_FORM_SALT, digest_method=hashlib.sha256)


def _link_form_signer() -> Signer:
    return _link_form_signer_for(_keys())


def link_form_token(link_token: str) -> str:
    """The CSRF token every form on the pages of ``link_token`` carries."""
    return _link_form_signer().get_signature(link_token).decode()


def is_signed_client_link(token: str) -> bool:
    """Whether ``token`` was signed as a client link by us, however old it is."""
    try:
        _serializer(CLIENT_LINK_SALT).loads(token)
    except BadSignature:
        return False
    return True


def link_form_token_matches(link_token: str, form_token: str) -> bool:
    """Whether ``form_token`` was made for ``link_token`` (by any current or old key)."""
    return bool(form_token) and _link_form_signer().verify_signature(link_token, form_token)


# Unsubscribe links (RFC 8058 one-click). They never expire: a referrer may use
# the link in an email from last year, and all it can do is stop email to them.


def unsubscribe_token(contact: Contact) -> str:
    return _serializer(UNSUBSCRIBE_SALT).dumps({"c": contact.id})


def unsubscribe_url(contact: Contact) -> str:
    """The one-click unsubscribe address for every email to this contact."""
    return external_url("referrers.unsubscribe", token=unsubscribe_token(contact))


def read_unsubscribe_token(token: str) -> Contact | None:
    """The contact an unsubscribe link belongs to, or None for a forged or unknown one."""
    try:
        payload = _serializer(UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    contact_id = payload.get("c") if isinstance(payload, dict) else None
    if not isinstance(contact_id, int):
        return None
    return db.session.get(Contact, contact_id, options=[joinedload(Contact.user)])
