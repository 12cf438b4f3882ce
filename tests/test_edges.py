"""Input from the address bar that is no id of ours, and searches beyond ASCII."""

import pytest

from tests.factories import make_contact

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "url",
    [
        f"/contacts/{HUGE}",
        f"/contacts/{HUGE}/edit",
        f"/touchpoints/{HUGE}",
        f"/outbox/{HUGE}",
        f"/touchpoints/new?contact_id={HUGE}",
        "/touchpoints/new?contact_id=-1",
    ],
)
def test_ids_too_large_to_be_ours_are_not_found(signed_in, url):
    assert signed_in.get(url).status_code == 404


@pytest.mark.parametrize("page", [HUGE, "-1", "0", "abc"])
def test_any_page_number_gives_a_list(signed_in, page):
    for path in ("/contacts/", "/touchpoints/", "/outbox/"):
        assert signed_in.get(f"{path}?page={page}").status_code == 200


def test_search_ignores_case_beyond_ascii(signed_in, user):
    make_contact(user, name="Élodie Martin")
    make_contact(user, name="Özgür Kaya")
    make_contact(user, name="Sam Patel")
    for query, expected in [("élodie", "Élodie Martin"), ("ÖZGÜR", "Özgür Kaya")]:
        html = signed_in.get(f"/contacts/?q={query}").get_data(as_text=True)
        assert expected in html
        assert "Sam Patel" not in html
