"""The browser can reach the app at all, with the CSP intact and no console errors."""


def test_sign_in_page_loads_without_console_errors(live_server, desktop):
    errors = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desktop.goto(f"{live_server}/login")
    assert desktop.title().endswith("Referloop")
    assert errors == []
