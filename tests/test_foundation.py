"""The app factory, settings and the security headers every page carries."""

import gzip
import re
from pathlib import Path

import brotli
import pytest
from backports import zstd

from app import create_app
from app.helpers import external_url


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"}, str(tmp_path))


@pytest.mark.parametrize("weak", ["changeme", "short-key", ""])
def test_production_refuses_a_weak_secret_key(monkeypatch, tmp_path, weak):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("FLASK_SECRET_KEY", weak)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"}, str(tmp_path))


def test_production_starts_with_a_real_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("FLASK_SECRET_KEY", "9f2c" * 16)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"}, str(tmp_path))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_environment_overrides_settings(monkeypatch, database_url, tmp_path):
    (tmp_path / "config.py").write_text("MAIL_PORT = 1025\nMAIL_SERVER = 'mail.test'\n")
    monkeypatch.setenv("FLASK_MAIL_PORT", "2525")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url}, str(tmp_path))
    assert app.config["MAIL_SERVER"] == "mail.test"  # instance/config.py over defaults
    assert app.config["MAIL_PORT"] == 2525


def test_every_page_carries_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_are_cached_for_good_only_under_a_versioned_url(client):
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    stylesheet = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page).group(1)
    with client.get(stylesheet) as versioned:
        assert "immutable" in versioned.headers["Cache-Control"]
    with client.get("/static/css/app.css") as plain:
        assert plain.headers["Cache-Control"] == "no-cache"


# Compression ------------------------------------------------------------------------


def test_static_text_files_are_sent_compressed_and_decode_to_the_file(app, client):
    source = Path(app.static_folder, "js", "htmx-2.0.11.min.js").read_bytes()
    brotli_response = client.get("/static/js/htmx-2.0.11.min.js", headers={"Accept-Encoding": "br"})
    assert brotli_response.headers["Content-Encoding"] == "br"
    assert brotli_response.headers["Content-Type"].startswith("text/javascript")
    assert "Accept-Encoding" in brotli_response.headers["Vary"]
    assert brotli.decompress(brotli_response.data) == source
    assert len(brotli_response.data) < len(source) / 3

    gzip_response = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert gzip_response.headers["Content-Encoding"] == "gzip"
    stylesheet = Path(app.static_folder, "css", "app.css").read_bytes()
    assert gzip.decompress(gzip_response.data) == stylesheet

    with client.get("/static/css/app.css") as plain:  # a client that asks for nothing
        assert "Content-Encoding" not in plain.headers
        assert plain.data == stylesheet


def test_a_compressed_static_file_answers_a_conditional_request_with_304(client):
    first = client.get("/static/css/app.css", headers={"Accept-Encoding": "br"})
    again = client.get(
        "/static/css/app.css",
        headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    for missing in ("/static/css/missing.css", "/static/../config.py"):
        assert client.get(missing, headers={"Accept-Encoding": "br"}).status_code == 404


@pytest.mark.parametrize(
    "accepted, encoding",
    [
        ("gzip, deflate, br, zstd", "zstd"),  # Chrome, Firefox
        ("gzip, deflate, br", "br"),  # Safari
        ("gzip, deflate", "gzip"),
    ],
)
def test_pages_are_compressed_as_the_browser_asks(client, accepted, encoding):
    response = client.get("/login", follow_redirects=True, headers={"Accept-Encoding": accepted})
    assert response.headers["Content-Encoding"] == encoding
    decode = {"zstd": zstd.decompress, "br": brotli.decompress, "gzip": gzip.decompress}[encoding]
    assert decode(response.data).rstrip().endswith(b"</html>")
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


def test_links_for_emails_follow_base_url_with_its_path_and_its_changes(app):
    """Emails and copied links are absolute: BASE_URL's scheme, host and path when it
    is set (a change takes effect at once), the development address otherwise."""
    with app.app_context():
        app.config["BASE_URL"] = "https://referrals.example.com/app"
        assert external_url("capture.form", token="abc") == (
            "https://referrals.example.com/app/r/abc"
        )
        app.config["BASE_URL"] = "http://other.example.org"
        assert external_url("capture.form", token="abc") == "http://other.example.org/r/abc"
        app.config["BASE_URL"] = ""
        assert external_url("capture.form", token="abc") == "http://127.0.0.1:5000/r/abc"


def test_templates_compiled_before_the_workers_fork_are_not_compiled_again(app, monkeypatch):
    """gunicorn.conf.py compiles every template once, in the process that forks, then
    freezes what it loaded out of the garbage collector's generations."""
    import gc
    import runpy
    from types import SimpleNamespace

    hooks = runpy.run_path(str(Path(app.root_path).parent / "gunicorn.conf.py"))
    master = SimpleNamespace(cfg=SimpleNamespace(preload_app=True), app=SimpleNamespace())
    master.app.wsgi = lambda: app
    try:
        hooks["when_ready"](master)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this process is the test run, not a master about to fork

    compiled = []
    compile_now = app.jinja_env.compile
    monkeypatch.setattr(
        app.jinja_env,
        "compile",
        lambda *args, **kw: compiled.append(args) or compile_now(*args, **kw),
    )
    page = app.test_client().get("/", follow_redirects=True)  # the first run: setup
    assert page.status_code == 200 and "Welcome to Referloop" in page.get_data(as_text=True)
    app.jinja_env.get_template("email/referrer_thanks.html")
    assert compiled == []
    templates = Path(app.root_path) / "templates"
    files = [path for path in templates.rglob("*") if path.suffix in {".html", ".txt"}]
    assert len(app.jinja_env.cache) == len(files)


def test_every_template_sees_every_global_and_a_render_never_changes_them(app):
    """Each template keeps its globals in one dict, taken as it loads (templating.
    Environment): every global create_app registered is in it, a value passed to a
    render wins for that render only, and what a template sets stays in that render."""
    environment = app.jinja_env
    template = environment.get_template("email/referrer_thanks.html")
    assert set(environment.globals) <= set(template.globals)
    assert template.globals["asset_url"] is environment.globals["asset_url"]

    probe = environment.from_string(
        "{% set day = 'set here' %}{{ radio_options.__name__ or radio_options }}|{{ day }}"
    )
    with app.test_request_context():
        assert probe.render(radio_options="given") == "given|set here"
        shown = probe.render()
    assert shown == "radio_options|set here"
    assert probe.globals["radio_options"] is environment.globals["radio_options"]
    assert "day" not in probe.globals
