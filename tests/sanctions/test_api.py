"""The platforms' API: each platform sees, appeals and links identities only for its own accounts; the
blacklist check answers per hash."""

import pytest

from debunk.api.models import ApiRequestLog
from debunk.sanctions import services as svc
from debunk.sanctions.models import BannedIdentity, Measure, Sanction
from tests.sanctions.conftest import account

pytestmark = pytest.mark.django_db


def make_sanction(platform, who, measure=Measure.WARNING, *, by, second=None, days=None):
    sanction = Sanction.objects.create(
        platform=platform, author_hash=account(who), measure=measure, recommended_measure=measure, days=days
    )
    svc.sanction_apply(sanction=sanction, by=by)
    if second is not None:
        svc.sanction_approve(sanction=sanction, by=second)
    return sanction


def test_a_platform_lists_only_decisions_about_its_own_accounts(client_a, client_b, platform_a, platform_b, reviewer):
    mine = make_sanction(platform_a, "a1", by=reviewer)
    make_sanction(platform_b, "b1", by=reviewer)
    Sanction.objects.create(
        platform=platform_a, author_hash=account("a2"), measure="warning", recommended_measure="warning"
    )
    body = client_a.get("/api/v1/sanctions").json()
    assert [item["id"] for item in body["results"]] == [mine.pk]
    assert body["results"][0]["author_hash"] == account("a1") and body["results"][0]["status"] == "active"
    assert len(client_b.get("/api/v1/sanctions").json()["results"]) == 1
    assert ApiRequestLog.objects.filter(path="/api/v1/sanctions").count() == 2


def test_the_list_pages_with_a_cursor(client_a, platform_a, reviewer):
    made = [make_sanction(platform_a, f"a{i}", by=reviewer).pk for i in range(3)]
    first = client_a.get("/api/v1/sanctions", {"page_size": 2}).json()
    second = client_a.get(first["next"]).json()
    assert [i["id"] for i in first["results"] + second["results"]] == made
    assert client_a.get("/api/v1/sanctions", {"cursor": "garbage"}).status_code == 404
    assert client_a.get("/api/v1/sanctions", {"status": "nope"}).status_code == 400


def test_platform_b_cannot_read_or_appeal_platform_a_sanctions(client_a, client_b, platform_a, reviewer):
    sanction = make_sanction(platform_a, "a1", by=reviewer)
    assert client_a.get(f"/api/v1/sanctions/{sanction.pk}").status_code == 200
    assert client_b.get(f"/api/v1/sanctions/{sanction.pk}").status_code == 404
    response = client_b.post(f"/api/v1/sanctions/{sanction.pk}/appeal", {"text": "冒充"}, format="json")
    assert response.status_code == 404
    sanction.refresh_from_db()
    assert sanction.appeal == ""


def test_a_recommendation_is_not_visible_to_the_platform(client_a, platform_a):
    pending = Sanction.objects.create(
        platform=platform_a, author_hash=account("a"), measure="warning", recommended_measure="warning"
    )
    assert client_a.get(f"/api/v1/sanctions/{pending.pk}").status_code == 404
    assert client_a.get("/api/v1/sanctions/abc").status_code == 404


def test_a_platform_appeals_once_for_its_user(client_a, platform_a, reviewer):
    sanction = make_sanction(platform_a, "a1", by=reviewer)
    url = f"/api/v1/sanctions/{sanction.pk}/appeal"
    assert client_a.post(url, {"text": ""}, format="json").status_code == 400
    response = client_a.post(url, {"text": "用户称内容来自官方通报"}, format="json")
    assert response.status_code == 200 and response.json()["appeal"] == "pending"
    again = client_a.post(url, {"text": "再次申诉"}, format="json")
    assert again.status_code == 400 and "appeal" in again.json()


def test_the_api_needs_a_key(platform_a):
    from tests.api.conftest import api_client

    assert api_client().get("/api/v1/sanctions").status_code == 401
    assert api_client().post("/api/v1/blacklist/check", {"hashes": [account("x")]}, format="json").status_code == 401


# --- blacklist ----------------------------------------------------------------------------------------------------


@pytest.fixture
def banned(platform_a, reviewer, reviewer2):
    """A registration ban and a blacklist of platform A's accounts, each with one identity linked."""
    ban = make_sanction(platform_a, "a1", Measure.REGISTRATION_BAN, by=reviewer, second=reviewer2)
    blacklist = make_sanction(platform_a, "a2", Measure.BLACKLIST, by=reviewer, second=reviewer2, days=None)
    BannedIdentity.objects.create(identity_hash=account("id-ban"), sanction=ban)
    BannedIdentity.objects.create(identity_hash=account("id-black"), sanction=blacklist)
    return ban, blacklist


def check(client, hashes):
    response = client.post("/api/v1/blacklist/check", {"hashes": hashes}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_registration_ban_holds_on_every_platform_a_blacklist_on_its_own(client_a, client_b, banned):
    hashes = [account("id-ban"), account("id-black"), account("nobody")]
    on_a = check(client_a, hashes)
    assert [(r["banned"], r["reason_code"]) for r in on_a] == [
        (True, "registration_ban"),
        (True, "blacklist"),
        (False, None),
    ]
    assert on_a[0]["until"] is None
    on_b = check(client_b, hashes)
    assert [r["banned"] for r in on_b] == [True, False, False]


def test_a_lifted_or_expired_sanction_no_longer_bans(client_b, banned, reviewer):
    ban, _blacklist = banned
    svc.sanction_lift(sanction=ban, by=reviewer, reason="申诉成立")
    assert check(client_b, [account("id-ban")])[0]["banned"] is False


def test_hashes_are_case_insensitive_and_malformed_ones_get_an_error(client_a, banned):
    results = check(client_a, [account("id-ban").upper(), "xyz", 5])
    assert results[0] == {"hash": account("id-ban"), "banned": True, "until": None, "reason_code": "registration_ban"}
    assert "error" in results[1] and results[1]["hash"] == "xyz"
    assert results[2]["hash"] is None and "error" in results[2]


def test_at_most_1000_hashes(client_a):
    too_many = [account(str(i)) for i in range(1001)]
    assert client_a.post("/api/v1/blacklist/check", {"hashes": too_many}, format="json").status_code == 400
    assert client_a.post("/api/v1/blacklist/check", {"hashes": []}, format="json").status_code == 400
    assert client_a.post("/api/v1/blacklist/check", {"nope": 1}, format="json").status_code == 400
    assert len(check(client_a, too_many[:1000])) == 1000


def test_a_platform_links_identities_to_its_own_blacklist_only(client_a, client_b, platform_a, reviewer, reviewer2):
    blacklist = make_sanction(platform_a, "a1", Measure.BLACKLIST, by=reviewer, second=reviewer2)
    warning = make_sanction(platform_a, "a2", by=reviewer)
    body = {"sanction_id": blacklist.pk, "hashes": [account("id1"), account("id2")]}
    assert client_b.post("/api/v1/blacklist/identities", body, format="json").status_code == 404
    response = client_a.post("/api/v1/blacklist/identities", body, format="json")
    assert response.status_code == 200 and response.json() == {"linked": 2}
    assert client_a.post("/api/v1/blacklist/identities", body, format="json").json() == {"linked": 0}
    assert check(client_a, [account("id1")])[0]["banned"] is True
    assert check(client_b, [account("id1")])[0]["banned"] is False  # a blacklist is the platform's own
    other = {"sanction_id": warning.pk, "hashes": [account("id3")]}
    assert client_a.post("/api/v1/blacklist/identities", other, format="json").status_code == 400
    bad = {"sanction_id": blacklist.pk, "hashes": ["not-a-hash"]}
    assert client_a.post("/api/v1/blacklist/identities", bad, format="json").status_code == 400
