"""Profiles and devices."""

from __future__ import annotations

from clarion.core.model import Device, Profile
from clarion.store import SqlStore
from tests.integration.store_support import T0

PHONE = Device(id="d1", platform="ios", app_version="5.2", locale="fr-FR", push_token="tok-1")
TV = Device(id="d2", platform="tv")


def _profile(profile_id: str = "p1", **changes: object) -> Profile:
    base = Profile(
        id=profile_id,
        locale="fr-FR",
        timezone="Europe/Paris",
        country="FR",
        email="ana@example.com",
        phone="+33600000000",
        account_id="acct-1",
        attributes={"plan": "premium", "tags": ["a", "b"], "nested": {"n": 1}},
        opt_out_channels=frozenset({"sms"}),
        opt_out_categories=frozenset({"marketing", "promo"}),
    )
    fields = {f: getattr(base, f) for f in Profile.__slots__} | changes
    return Profile(**fields)


def test_profile_round_trips_with_every_field(store: SqlStore) -> None:
    store.upsert_profile(_profile(), T0)

    assert store.get_profile("p1") == _profile()
    assert store.get_profile("nobody") is None


def test_upsert_replaces_the_profile_and_keeps_its_devices(store: SqlStore) -> None:
    store.upsert_profile(_profile(), T0)
    assert store.upsert_device("p1", PHONE, T0)

    store.upsert_profile(_profile(email=None, opt_out_channels=frozenset()), T0)

    assert store.get_profile("p1") == _profile(
        email=None, opt_out_channels=frozenset(), devices=(PHONE,)
    )


def test_upsert_profile_stores_the_devices_it_carries(store: SqlStore) -> None:
    store.upsert_profile(_profile(devices=(PHONE,)), T0)
    store.upsert_profile(_profile(devices=(TV,)), T0)

    found = store.get_profile("p1")
    assert found is not None
    assert found.devices == (PHONE, TV)


def test_upsert_device_replaces_and_refuses_unknown_profiles(store: SqlStore) -> None:
    assert not store.upsert_device("nobody", PHONE, T0)
    store.upsert_profile(_profile(), T0)
    assert store.upsert_device("p1", PHONE, T0)
    moved = Device(id="d1", platform="ios", app_version="6.0", push_token="tok-2")
    assert store.upsert_device("p1", moved, T0)

    found = store.get_profile("p1")
    assert found is not None
    assert found.devices == (moved,)


def test_get_profiles_returns_those_that_exist_with_devices(store: SqlStore) -> None:
    for profile_id in ("p1", "p2", "p3"):
        store.upsert_profile(_profile(profile_id), T0)
    store.upsert_device("p2", PHONE, T0)
    store.upsert_device("p2", TV, T0)

    found = store.get_profiles(["p1", "p2", "missing", "p2"])

    assert sorted(found) == ["p1", "p2"]
    assert found["p1"].devices == ()
    assert found["p2"].devices == (PHONE, TV)
    assert store.get_profiles([]) == {}


def test_get_profiles_handles_more_ids_than_one_query_holds(store: SqlStore) -> None:
    ids = [f"p{i}" for i in range(1200)]
    for profile_id in ids[::100]:
        store.upsert_profile(_profile(profile_id), T0)

    assert sorted(store.get_profiles(ids)) == sorted(ids[::100])


def test_profiles_of_accounts(store: SqlStore) -> None:
    store.upsert_profile(_profile("p1", account_id="a1"), T0)
    store.upsert_profile(_profile("p2", account_id="a1", devices=(TV,)), T0)
    store.upsert_profile(_profile("p3", account_id="a2"), T0)
    store.upsert_profile(_profile("p4", account_id=None), T0)

    found = store.profiles_of_accounts(["a1", "nope"])

    assert sorted(found) == ["p1", "p2"]
    assert found["p2"].devices == (TV,)
    assert sorted(store.profiles_of_accounts(["a1", "a2"])) == ["p1", "p2", "p3"]
