"""Creating the first account, signing in and out, throttling, and ``flask users``."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User, utcnow
from tests.conftest import count_rows, post_form

SETUP = {
    "display_name": "Ana Lima",
    "business_name": "Lima Tax",
    "email": "Ana@Example.com",
    "password": "a long enough password",
    "confirm": "a long enough password",
}


def the_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


# First run


def test_first_run_home_offers_to_create_the_account(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"
    assert client.get("/login").headers["Location"] == "/setup"
    page = client.get("/setup").get_data(as_text=True)
    assert "Create my account" in page


def test_setup_creates_the_account_signs_in_and_welcomes(app, client):
    response = post_form(client, "/setup", SETUP)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"

    home = client.get("/").get_data(as_text=True)
    assert "Welcome to Referloop, Ana Lima" in home
    assert "Add your first contact" in home
    with app.app_context():
        user = the_user("ana@example.com")  # stored lower-cased
        assert user.business_name == "Lima Tax"
        assert user.password_hash != SETUP["password"]
        assert user.check_password(SETUP["password"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "", "Enter your name"),
        ("email", "not-an-email", "Enter an email address like name@example.com."),
        ("email", "josé@example.com", "plain letters before the @"),
        ("password", "short one", "Use at least 12 characters"),
        ("confirm", "something else entirely", "The two passwords are not the same."),
    ],
)
def test_setup_refuses_bad_input_and_keeps_what_was_typed(app, client, field, value, message):
    data = {**SETUP, field: value}
    if field == "password":
        data["confirm"] = value
    response = post_form(client, "/setup", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert f'id="{field}-error"' in page
    assert 'value="Lima Tax"' in page
    assert SETUP["password"] not in page  # passwords are never echoed back
    with app.app_context():
        assert count_rows(User) == 0


def test_setup_is_closed_once_an_account_exists(client, user):
    assert client.get("/setup").status_code == 404
    response = post_form(
        client, "/setup", {**SETUP, "email": "intruder@example.com"}, page="/login"
    )
    assert response.status_code == 404
    assert count_rows(User) == 1


# Signing in and out


def test_sign_in_and_out(client, auth, user):
    response = auth.login()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "Hello, Dana Reyes" in client.get("/").get_data(as_text=True)

    response = auth.logout()
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert "You are signed out" in client.get("/login").get_data(as_text=True)
    assert client.get("/").headers["Location"].startswith("/login")


def test_email_is_matched_whatever_its_case(client, auth, user):
    assert auth.login(email="  PRO@Example.COM ").status_code == 303


def test_sign_out_is_post_only(signed_in):
    assert signed_in.get("/logout").status_code == 405
    assert signed_in.get("/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("pro@example.com", "not the password"), ("nobody@example.com", "correct horse battery")],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_get_one_message_and_keep_the_email(client, auth, user, email, password):
    response = auth.login(email=email, password=password)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That email and password do not match an account" in page
    assert f'value="{email}"' in page
    assert password not in page
    assert client.get("/").headers["Location"].startswith("/login")


def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_one(app, client, auth, user):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        assert auth.login(password="wrong guess").status_code == 422
    response = auth.login(password="wrong guess")
    assert response.status_code == 429
    assert "Please wait 15 minutes" in response.get_data(as_text=True)

    response = auth.login()  # the right password, too soon
    assert response.status_code == 429
    assert "paused after too many wrong passwords" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/").headers["Location"].startswith("/login")

    # Once the lock has run out, the right password works again.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert auth.login().status_code == 303


def test_a_successful_sign_in_resets_the_count_of_wrong_passwords(app, auth, user):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        auth.login(password="wrong guess")
    assert auth.login().status_code == 303
    auth.logout()
    assert auth.login(password="wrong guess").status_code == 422  # counting starts again


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test", "/\\evil.test", "javascript:alert(1)"]
)
def test_sign_in_ignores_a_next_address_on_another_site(client, user, target):
    url = f"/login?next={quote(target, safe='')}"
    assert "evil" not in client.get(url).get_data(as_text=True)  # not even kept in the form
    response = post_form(
        client, url, {"email": "pro@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(client, user):
    response = client.get("/contacts/?q=ann")
    login_url = response.headers["Location"]
    assert login_url == "/login?next=" + quote("/contacts/?q=ann", safe="")
    response = post_form(
        client, login_url, {"email": "pro@example.com", "password": "correct horse battery"}
    )
    assert response.headers["Location"] == "/contacts/?q=ann"


@pytest.mark.parametrize(
    "path", ["/", "/settings", "/contacts/", "/contacts/new", "/contacts/1", "/contacts/1/edit"]
)
def test_signed_in_pages_ask_to_sign_in_first(client, user, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=" + quote(path, safe="")


def test_htmx_request_after_the_session_ended_navigates_to_sign_in(client, user):
    response = client.get(
        "/contacts/?q=an",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/contacts/?q=a"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=" + quote("/contacts/?q=a", safe="")
    assert response.get_data() == b""


# flask users create


def test_users_create_makes_an_account_that_can_sign_in(app, runner, auth):
    result = runner.invoke(
        args=["users", "create", "Sam@Example.com", "--name", "Sam Ortiz"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created the account for sam@example.com" in result.output
    with app.app_context():
        assert the_user("sam@example.com").display_name == "Sam Ortiz"
    assert auth.login("sam@example.com", "a long enough password").status_code == 303


def test_users_create_refuses_an_existing_email(runner, user):
    result = runner.invoke(
        args=["users", "create", "PRO@example.com", "--password", "a long enough password"]
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert count_rows(User) == 1


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "a long enough password", "EMAIL"),
        ("sam@", "a long enough password", "EMAIL"),
        ("josé@example.com", "a long enough password", "EMAIL"),
        ("sam@example.com", "too short", "at least"),
    ],
)
def test_users_create_refuses_bad_input(app, runner, email, password, message):
    result = runner.invoke(args=["users", "create", email, "--password", password])
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert count_rows(User) == 0


def test_a_second_browser_is_not_signed_in_by_the_first(app, signed_in):
    """Each client has its own session: signing in one signs in nothing else."""
    stranger = app.test_client()
    response = stranger.get("/contacts/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_rotating_the_secret_key_keeps_sessions_while_the_old_key_is_a_fallback(app, signed_in):
    """The session's signer is kept between requests (app/sessions.py), yet a new key
    takes effect at once: a session signed with the old key lasts while that key
    is a fallback, and ends when it is retired."""
    old_session = signed_in.get_cookie("session").value

    def status_with_old_session() -> int:
        browser = app.test_client()
        browser.set_cookie("session", old_session)
        return browser.get("/contacts/").status_code

    assert status_with_old_session() == 200
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-after-rotation"
    assert status_with_old_session() == 200
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert status_with_old_session() == 302


def test_no_transaction_is_open_while_a_password_is_checked(app, client, user, monkeypatch):
    """Hashing is slow; on SQLite an open write transaction would stall every writer."""
    import app.auth.routes as auth_routes
    from app.extensions import db as database

    seen = []
    real_check = auth_routes.check_password_hash

    def watching_check(password_hash, password):
        seen.append(database.session().in_transaction())
        return real_check(password_hash, password)

    monkeypatch.setattr(auth_routes, "check_password_hash", watching_check)
    post_form(client, "/login", {"email": "pro@example.com", "password": "wrong password!!"})
    post_form(client, "/login", {"email": "pro@example.com", "password": "correct horse battery"})
    assert seen == [False, False]


def test_simultaneous_wrong_passwords_are_all_counted(app, user):
    """Guesses sent at once cannot slip past the lockout by losing counts."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import HttpBrowser, csrf_from_html, serving

    guesses = app.config["LOGIN_MAX_FAILURES"]

    def guess(base: str) -> int:
        browser = HttpBrowser()
        token = csrf_from_html(browser.get(f"{base}/login"))
        fields = {"csrf_token": token, "email": "pro@example.com", "password": "not it at all"}
        return browser.post(f"{base}/login", fields)

    with serving(app) as base, ThreadPoolExecutor(max_workers=guesses) as pool:
        statuses = list(pool.map(guess, [base] * guesses))
        assert set(statuses) <= {422, 429}
        right = HttpBrowser()
        token = csrf_from_html(right.get(f"{base}/login"))
        fields = {"csrf_token": token, "email": "pro@example.com"}
        fields["password"] = "correct horse battery"
        assert right.post(f"{base}/login", fields) == 429
