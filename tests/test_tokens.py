"""Client links: signed, bound to a version in the database, rotatable."""

from itsdangerous import URLSafeTimedSerializer

from app.tokens import (
    CLIENT_LINK_SALT,
    LinkState,
    client_link_token,
    link_form_token,
    link_form_token_matches,
    read_client_link,
)
from tests.factories import make_contact, make_touchpoint


def test_a_link_carries_ids_and_a_version_only(app, user):
    touchpoint = make_touchpoint(make_contact(user, name="Maya Okafor", email="maya@example.net"))
    token = client_link_token(touchpoint)
    payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CLIENT_LINK_SALT).loads(token)
    assert payload == {"t": touchpoint.id, "v": touchpoint.link_version}
    assert "maya" not in token.lower()


def test_rotating_the_key_keeps_old_links_working_and_signs_new_ones_with_the_new_key(app, user):
    touchpoint = make_touchpoint(make_contact(user))
    old_token = client_link_token(touchpoint)

    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-after-rotation"
    assert read_client_link(old_token).state is LinkState.VALID

    new_token = client_link_token(touchpoint)
    new_key = URLSafeTimedSerializer("a-brand-new-secret-key-after-rotation", salt=CLIENT_LINK_SALT)
    assert new_key.loads(new_token)["t"] == touchpoint.id

    app.config["SECRET_KEY_FALLBACKS"] = []  # the old key retired: its links die
    assert read_client_link(old_token).state is LinkState.INVALID
    assert read_client_link(new_token).state is LinkState.VALID


def test_a_token_signed_for_another_purpose_or_key_is_invalid(app, user):
    touchpoint = make_touchpoint(make_contact(user))
    payload = {"t": touchpoint.id, "v": touchpoint.link_version}
    other_purpose = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="session").dumps(payload)
    other_key = URLSafeTimedSerializer("someone-elses-key", salt=CLIENT_LINK_SALT).dumps(payload)
    assert read_client_link(other_purpose).state is LinkState.INVALID
    assert read_client_link(other_key).state is LinkState.INVALID


def test_a_link_for_a_version_not_yet_issued_is_invalid(app, user):
    touchpoint = make_touchpoint(make_contact(user))
    future = {"t": touchpoint.id, "v": touchpoint.link_version + 1}
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CLIENT_LINK_SALT).dumps(future)
    assert read_client_link(token).state is LinkState.INVALID


def test_a_link_to_one_professionals_touchpoint_shows_nothing_in_anothers_account(
    client, auth, user
):
    """Cross-account: holding a client link gives no access to the professional's pages."""
    from tests.factories import make_user

    touchpoint = make_touchpoint(make_contact(user))
    make_user(email="other@example.com")
    auth.login("other@example.com")
    assert client.get(f"/touchpoints/{touchpoint.id}").status_code == 404
    assert client.get(f"/contacts/{touchpoint.contact_id}").status_code == 404


def test_a_form_token_belongs_to_one_link_and_survives_a_key_rotation(app, user):
    contact = make_contact(user)
    token, other = (client_link_token(make_touchpoint(contact)) for _ in range(2))
    form_token = link_form_token(token)
    assert link_form_token_matches(token, form_token)
    assert not link_form_token_matches(other, form_token)
    assert not link_form_token_matches(token, "")
    assert not link_form_token_matches(token, "not base64 !")

    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-after-rotation"
    assert link_form_token_matches(token, form_token)
    assert link_form_token(token) != form_token  # new pages carry the new key's token
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert not link_form_token_matches(token, form_token)


def test_tokens_are_the_ones_itsdangerous_makes_and_read_any_it_made(app, user):
    """tokens._Serializer keeps its signer and skips zlib for tiny payloads: the same
    tokens as itsdangerous' own serializer (links already sent keep working, and
    anything reading them with itsdangerous still can), including compressed ones."""
    from unittest import mock

    from app.tokens import UNSUBSCRIBE_SALT, _Serializer, unsubscribe_token

    contact = make_contact(user)
    touchpoint = make_touchpoint(contact)
    keys = [app.config["SECRET_KEY"]]
    with app.app_context(), mock.patch("time.time", return_value=1_800_000_000):
        theirs = URLSafeTimedSerializer(keys, salt=CLIENT_LINK_SALT)
        assert client_link_token(touchpoint) == theirs.dumps(
            {"t": touchpoint.id, "v": touchpoint.link_version}
        )
        by_them = URLSafeTimedSerializer(keys, salt=UNSUBSCRIBE_SALT)
        assert unsubscribe_token(contact) == by_them.dumps({"c": contact.id})
        # A payload long enough to shrink is compressed, as itsdangerous does.
        ours = _Serializer(keys, salt=CLIENT_LINK_SALT)
        long = {"t": touchpoint.id, "note": "again " * 20}
        assert ours.dumps(long) == theirs.dumps(long) and ours.dumps(long).startswith(".")
        assert ours.loads(theirs.dumps(long)) == long
