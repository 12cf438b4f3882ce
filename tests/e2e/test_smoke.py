"""The browser can reach the app at all: no CSP violations, no missing files, no errors."""


def test_sign_in_page_loads_without_console_errors(live_server, desktop):
    errors = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desktop.goto(f"{live_server}/login", wait_until="networkidle")
    assert desktop.title().endswith("Referloop")
    assert errors == []


def test_client_form_loads_without_console_errors(app, live_server, phone):
    from app.tokens import client_link_token
    from tests.factories import make_contact, make_touchpoint, make_user

    with app.app_context():
        token = client_link_token(make_touchpoint(make_contact(make_user())))
    errors = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(f"{live_server}/r/{token}", wait_until="networkidle")
    phone.get_by_role("button", name="Add another person").click()
    phone.locator("#person-2").wait_for()
    assert errors == []
