"""Default settings.

Order of precedence (lowest first): this module, ``instance/config.py``, then
``FLASK_``-prefixed environment variables (``FLASK_MAIL_PORT=2525``; values are
parsed as JSON when they can be), then the ``test_config`` given to ``create_app``.
There is deliberately no default SECRET_KEY: ``make run`` writes a random one to
``instance/config.py`` and production refuses to start without one.
"""

from datetime import timedelta

# Database: SQLite in the instance folder unless configured (see create_app).
SQLALCHEMY_DATABASE_URI = None
SQLALCHEMY_ENGINE_OPTIONS: dict = {}
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Pages the write-ahead log collects before a commit copies them into the database
# (SQLite's default is 1,000). Each checkpoint writes every page it holds once, and
# syncs twice: under a stream of referrers' answers, which change the same index
# pages over and over, 10,000 (a WAL of up to 40 MB) took about 7% off each answer's
# worker time (3.97 to 3.68 ms).
SQLITE_WAL_AUTOCHECKPOINT = 10_000

# Base address used in links that leave the site (emails, copied client links).
# When unset, links made during a request use that request's host; CLI jobs fall
# back to the development server's address.
BASE_URL = None

# Signed links: one lifetime per purpose.
CLIENT_LINK_MAX_AGE = int(timedelta(days=30).total_seconds())

# Sign-in.
PASSWORD_HASH_METHOD = "scrypt:131072:8:1"  # noqa: S105 (a method, not a secret; OWASP N=2^17)
LOGIN_MAX_FAILURES = 5  # wrong passwords before an account is locked for a while
LOGIN_LOCKOUT_SECONDS = 15 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = None  # None: secure outside debug and testing
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = timedelta(days=14)

# CSRF tokens live as long as the session: a referrer may leave the form open a while.
WTF_CSRF_TIME_LIMIT = None

# Referral form.
REFERRAL_FORM_MAX_PEOPLE = 6
CONSENT_NOTICE_VERSION = "2026-11"

# Outbox delivery over SMTP. Without MAIL_SERVER, email stays queued and can be
# read on the Outbox page.
MAIL_SERVER = None
MAIL_PORT = 25
MAIL_USE_TLS = False  # STARTTLS
MAIL_USE_SSL = False  # implicit TLS
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_DEFAULT_SENDER = "Referloop <no-reply@referloop.localhost>"
MAIL_TIMEOUT = 10
OUTBOX_MAX_ATTEMPTS = 8
OUTBOX_RETRY_BASE_SECONDS = 30
OUTBOX_RETRY_MAX_SECONDS = 6 * 3600
OUTBOX_LEASE_SECONDS = 300
OUTBOX_BATCH_SIZE = 100

# Updates to referrers: changes within this window go out as one email.
REFERRER_UPDATE_WINDOW_SECONDS = 15 * 60

# touchpoints send-due: touchpoints claimed and queued per transaction.
SEND_DUE_BATCH_SIZE = 200

# flask worker: seconds between rounds of send-due and outbox delivery.
WORKER_INTERVAL_SECONDS = 60

# Compression of pages (Flask-Compress), for browsers that ask for it: zstd
# (Chrome, Firefox) at level 1 is smaller than gzip at 3 for half the CPU, and
# brotli at 2 (Safari) about as cheap; gzip for anything else. Static files are
# compressed once, at the best level, by static_files.py. A proxy in front may
# compress instead; then set COMPRESS_REGISTER = False.
COMPRESS_ALGORITHM = ["zstd", "br", "gzip"]
COMPRESS_ZSTD_LEVEL = 1
COMPRESS_BR_LEVEL = 2
COMPRESS_LEVEL = 3
COMPRESS_STREAMS = False
COMPRESS_MIN_SIZE = 500
# Pages are no-store and carry no ETag: nothing to evaluate a conditional request against.
COMPRESS_EVALUATE_CONDITIONAL_REQUEST = False

# Lists.
PER_PAGE = 25
