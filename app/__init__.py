"""Referloop: referrals by design."""

import os
import secrets

from flask import Flask
from flask_login import current_user

from . import config as default_config
from .extensions import compress, csrf, db, login_manager, migrate


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI, error pages."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    from .templating import Environment

    app.jinja_environment = Environment
    load_config(app, test_config)
    from .sessions import SessionInterface

    app.session_interface = SessionInterface()
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    from .templating import register as register_template_helpers

    register_template_helpers(app)
    from .security import register_security_headers

    register_security_headers(app)
    from .static_files import register as register_static_files

    register_static_files(app)
    return app


def load_config(app: Flask, test_config: dict | None) -> None:
    """The one place that knows how settings are read (see app/config.py)."""
    app.config.from_object(default_config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        path = os.path.join(app.instance_path, "referloop.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"

    development = app.debug or app.testing
    key = app.config.get("SECRET_KEY")
    if not development and not _is_real_secret(key):
        raise RuntimeError(
            "SECRET_KEY is missing or too weak. Put a long random value (32+ characters) "
            "in instance/config.py or FLASK_SECRET_KEY (make run writes one for development)."
        )
    if not key:
        # Debug and tests only: a throwaway key, never a fixed default.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not development
        app.config.setdefault("REMEMBER_COOKIE_SECURE", not development)


PLACEHOLDER_SECRETS = {"dev", "secret", "changeme", "change-me", "development", "test", "x"}


def _is_real_secret(key) -> bool:
    """A key someone could guess or copy from an example is no key."""
    if isinstance(key, str):
        key = key.encode()
    if not key:
        return False
    return len(key) >= 24 and key.decode(errors="ignore").lower() not in PLACEHOLDER_SECRETS


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    from .database import close_reading_connection, configure_engine, render_migration_item

    migrate.init_app(
        app, db, render_as_batch=True, compare_type=True, render_item=render_migration_item
    )
    csrf.init_app(app)
    # Templates get current_user as Flask-Login's proxy (a Jinja global), which loads
    # the user when a template reads it, not through its context processor, which
    # loads it for every page rendered, the referrer's pages included.
    login_manager.init_app(app, add_context_processor=False)
    app.jinja_env.globals["current_user"] = current_user
    compress.init_app(app)

    app.teardown_appcontext(close_reading_connection)
    with app.app_context():
        configure_engine(
            db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["SQLITE_WAL_AUTOCHECKPOINT"]
        )


def register_blueprints(app: Flask) -> None:
    from .auth import bp as auth_bp
    from .capture import bp as capture_bp
    from .categories import bp as categories_bp
    from .connections import bp as connections_bp
    from .contacts import bp as contacts_bp
    from .main import bp as main_bp
    from .moments import bp as moments_bp
    from .outbox import bp as outbox_bp
    from .referrals import bp as referrals_bp
    from .referrers import bp as referrers_bp
    from .touchpoints import bp as touchpoints_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(contacts_bp, url_prefix="/contacts")
    app.register_blueprint(connections_bp, url_prefix="/contacts")
    app.register_blueprint(moments_bp, url_prefix="/contacts")
    app.register_blueprint(categories_bp, url_prefix="/categories")
    app.register_blueprint(touchpoints_bp, url_prefix="/touchpoints")
    app.register_blueprint(outbox_bp, url_prefix="/outbox")
    app.register_blueprint(referrals_bp, url_prefix="/referrals")
    app.register_blueprint(capture_bp, url_prefix="/r")
    app.register_blueprint(referrers_bp, url_prefix="/u")


def register_errorhandlers(app: Flask) -> None:
    from .errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
