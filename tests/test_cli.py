"""``flask outbox ...`` and ``flask demo`` as cron and a new developer use them."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Contact,
    EmailState,
    OutboundEmail,
    Referral,
    ReferralEvent,
    Touchpoint,
    TouchpointState,
    User,
)
from app.tokens import LinkState, read_client_link
from tests.conftest import count_rows
from tests.test_mail import note_template, queue, refuse  # noqa: F401 (fixture)


@pytest.fixture
def app_config(app_config, smtp_config):
    return {**app_config, **smtp_config}


def test_outbox_deliver_prints_a_summary(runner, ctx, smtp_server):
    smtp_server.handler.fail_next = 1
    queue(4)

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Sent 3, will retry 1, failed 0."
    assert len(smtp_server.handler.messages) == 3


def test_outbox_deliver_exits_0_when_an_email_fails_for_good(runner, ctx, smtp_server):
    refuse(smtp_server.handler, "gone@example.com")
    queue(to_email="gone@example.com")

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0
    assert result.output.strip() == "Sent 0, will retry 0, failed 1."


def test_outbox_deliver_with_a_limit(runner, ctx, smtp_server):
    queue(3)

    result = runner.invoke(args=["outbox", "deliver", "--limit", "2"])

    assert result.output.strip() == "Sent 2, will retry 0, failed 0."
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.QUEUED) == 1


def test_outbox_deliver_without_a_mail_server_says_where_the_email_waits(
    app, runner, ctx, smtp_server
):
    app.config["MAIL_SERVER"] = None
    queue(3)

    result = runner.invoke(args=["outbox", "deliver"])

    assert result.exit_code == 0
    assert result.output.strip() == (
        "No SMTP server configured (FLASK_MAIL_SERVER); 3 emails are waiting in the Outbox page."
    )
    assert smtp_server.handler.messages == []
    assert count_rows(OutboundEmail, OutboundEmail.state == EmailState.QUEUED) == 3


def test_outbox_list_shows_states_and_the_last_error(runner, ctx, smtp_server):
    refuse(smtp_server.handler, "gone@example.com")
    queue(to_email="gone@example.com", subject="About your return")
    queue(to_email="kept@example.com")
    runner.invoke(args=["outbox", "deliver"])

    everything = runner.invoke(args=["outbox", "list"]).output
    failed = runner.invoke(args=["outbox", "list", "--state", "failed"]).output

    assert "sent" in everything and "failed" in everything
    assert "gone@example.com  About your return" in failed
    assert "last error: 550 5.1.1 No such user here" in failed
    assert "kept@example.com" not in failed


# flask demo ---------------------------------------------------------------------

PASSWORD = re.compile(r"Password: (\S+)")
LINK = re.compile(r"(http://\S+/r/(\S+))")


def run_demo(runner) -> tuple[str, str, str]:
    """Run ``flask demo``; the output, the password and the client link it printed."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    link = LINK.search(result.output)
    assert link, result.output
    return result.output, PASSWORD.search(result.output).group(1), link.group(1)


def demo_counts() -> tuple[int, ...]:
    return tuple(
        count_rows(model) for model in (User, Contact, Touchpoint, Referral, ReferralEvent)
    )


def test_demo_prints_the_sign_in_and_a_live_client_link(runner, ctx):
    output, password, link = run_demo(runner)

    assert "demo@referloop.test" in output
    assert "http://127.0.0.1:5000/login" in output
    user = db.session.scalar(sa.select(User).where(User.email == "demo@referloop.test"))
    assert user.check_password(password)
    opened = read_client_link(link.rsplit("/", 1)[1])
    assert opened.state == LinkState.VALID
    assert opened.touchpoint.user_id == user.id
    assert opened.touchpoint.due_on <= date.today()


def test_the_demo_client_link_opens_the_form(runner, client, ctx):
    _, _, link = run_demo(runner)

    assert client.get(urlsplit(link).path).status_code == 200


def test_demo_seeds_contacts_of_several_kinds_touchpoints_and_referrals(runner, ctx):
    run_demo(runner)

    kinds = set(db.session.scalars(sa.select(Contact.kind)))
    assert {"client", "vendor", "colleague", "friend_family"} <= kinds
    assert count_rows(Contact) >= 8
    touchpoints = db.session.scalars(sa.select(Touchpoint)).all()
    assert any(t.is_overdue for t in touchpoints)
    assert any(t.state == TouchpointState.ANSWERED for t in touchpoints)
    assert any(t.state == TouchpointState.PLANNED and not t.is_overdue for t in touchpoints)
    assert count_rows(Referral) >= 3
    assert count_rows(ReferralEvent) > count_rows(Referral)  # a history, not just "created"


def test_running_demo_again_adds_nothing_and_gives_a_new_password(runner, ctx):
    _, first_password, first_link = run_demo(runner)
    counts = demo_counts()

    output, password, link = run_demo(runner)

    assert demo_counts() == counts
    assert "password reset" in output
    assert password != first_password
    user = db.session.scalar(sa.select(User).where(User.email == "demo@referloop.test"))
    assert user.check_password(password) and not user.check_password(first_password)
    assert read_client_link(link.rsplit("/", 1)[1]).state == LinkState.VALID
    assert read_client_link(first_link.rsplit("/", 1)[1]).state == LinkState.VALID  # same link


def test_demo_prints_a_working_link_even_after_its_link_was_revoked(runner, ctx):
    _, _, first_link = run_demo(runner)
    touchpoint = read_client_link(first_link.rsplit("/", 1)[1]).touchpoint
    touchpoint.revoke_link()
    db.session.commit()

    _, _, link = run_demo(runner)

    assert read_client_link(link.rsplit("/", 1)[1]).state == LinkState.VALID


def test_the_demo_sign_in_works_through_the_sign_in_page(runner, client, auth, app):
    _, password, _ = run_demo(runner)
    response = auth.login("demo@referloop.test", password)
    assert response.status_code == 303
    home = client.get("/")
    assert home.status_code == 200
    assert "Priya Shah" in home.get_data(as_text=True)
