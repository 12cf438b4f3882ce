"""The signed-cookie session, as Flask keeps it, with its signer made once.

Flask builds the session's serializer on every request, to open the session
and again to save it; every page does both, the referrer's included. This
keeps one per set of keys, so rotating SECRET_KEY (with the old one in
SECRET_KEY_FALLBACKS) still takes effect at once.
"""

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_KEY = "referloop_session_serializer"


class SessionInterface(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = app.extensions.get(_KEY)
        if kept is None or kept[0] != keys:
            kept = app.extensions[_KEY] = (keys, super().get_signing_serializer(app))
        return kept[1]
