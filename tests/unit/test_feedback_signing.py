"""Signed feedback objects: round trips, and any change, expiry or unknown key is rejected."""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.core.inapp_spec import ActionType
from clarion.core.tracking import FeedbackBody, FeedbackError, FeedbackType, Tracking
from clarion.inapp import FeedbackRejected, FeedbackSigner
from tests.unit.inapp_fixtures import KEY, tracking

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
IMPRESSION = FeedbackBody(3600, FeedbackType.IMPRESSION, tracking())
CLICK = FeedbackBody(3600, FeedbackType.CTA, tracking(), ActionType.DISMISS, "DISMISS_ALERT")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def signer(clock: Clock | None = None, **keys: bytes) -> FeedbackSigner:
    return FeedbackSigner(keys or {"k1": KEY}, next(iter(keys or {"k1": KEY})), clock or Clock())


def test_round_trip() -> None:
    s = signer()
    for body in (IMPRESSION, CLICK):
        signed = s.sign(body)
        assert signed["kid"] == "k1"
        assert signed["expiresAt"] == int(T0.timestamp()) + 3600
        assert isinstance(signed["signature"], str) and "=" not in signed["signature"]
        assert s.verify(signed) == body


def test_round_trip_through_json_and_key_order() -> None:
    s = signer()
    wire = orjson.loads(orjson.dumps(s.sign(CLICK)))
    reordered = dict(reversed(list(wire.items())))
    assert s.verify(reordered) == CLICK


def test_body_without_ab_test() -> None:
    body = FeedbackBody(60, FeedbackType.IMPRESSION, tracking(ab_test_id=None, ab_test_cell=None))
    s = signer()
    assert s.verify(s.sign(body)) == body


def test_expired() -> None:
    clock = Clock()
    s = signer(clock)
    signed = s.sign(IMPRESSION)
    clock.now = T0 + timedelta(seconds=3599)
    assert s.verify(signed) == IMPRESSION
    clock.now = T0 + timedelta(seconds=3600)
    with pytest.raises(FeedbackRejected) as caught:
        s.verify(signed)
    assert caught.value.reason == "expired"


def test_unknown_key() -> None:
    signed = signer(k1=KEY).sign(IMPRESSION)
    with pytest.raises(FeedbackRejected) as caught:
        signer(k2=KEY).verify(signed)
    assert caught.value.reason == "unknown_key"


def test_other_secret_under_the_same_kid() -> None:
    signed = signer(k1=KEY).sign(IMPRESSION)
    with pytest.raises(FeedbackRejected) as caught:
        signer(k1=b"x" * 32).verify(signed)
    assert caught.value.reason == "bad_signature"


def test_rotation_verifies_with_a_retired_key() -> None:
    old = signer(old=KEY).sign(IMPRESSION)
    rotated = FeedbackSigner({"new": b"n" * 32, "old": KEY}, "new", Clock())
    assert rotated.verify(old) == IMPRESSION
    assert rotated.sign(IMPRESSION)["kid"] == "new"


@pytest.mark.parametrize(
    "obj",
    [None, [], "x", {}, {"kid": "k1"}, {"kid": 1, "signature": "s"}, {"kid": "k1", "signature": 5}],
)
def test_malformed(obj: object) -> None:
    with pytest.raises(FeedbackRejected) as caught:
        signer().verify(obj)
    assert caught.value.reason == "malformed"


def test_unencodable_is_malformed_not_a_crash() -> None:
    signed: dict[str, Any] = signer().sign(IMPRESSION)
    signed["ttl"] = 2**70  # beyond what canonical JSON encodes
    with pytest.raises(FeedbackRejected) as caught:
        signer().verify(signed)
    assert caught.value.reason == "malformed"


def test_keys_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="active"):
        FeedbackSigner({"k1": KEY}, "k2", Clock())
    with pytest.raises(ValueError, match="32 bytes"):
        FeedbackSigner({"k1": b"short"}, "k1", Clock())


def leaves(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    return [path]


def mutate(value: object, draw: st.DrawFn) -> object:
    """A different JSON value: a changed string, number or null, or another type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.integers(1, 10**6)) * draw(st.sampled_from([1, -1]))
    if isinstance(value, str) and value:
        i = draw(st.integers(0, len(value) - 1))
        replacement = draw(st.characters(codec="utf-8").filter(lambda c: c != value[i]))
        return value[:i] + replacement + value[i + 1 :]
    return draw(st.one_of(st.integers(), st.text(min_size=1), st.just([1])))


@st.composite
def tampered(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    signed = signer().sign(draw(st.sampled_from([IMPRESSION, CLICK])))
    path = draw(st.sampled_from(leaves(signed)))
    changed = copy.deepcopy(signed)
    target: Any = changed  # nested JSON objects, down the path to a leaf
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = mutate(target[path[-1]], draw)
    return changed, ".".join(map(str, path))


@given(tampered())
def test_any_changed_leaf_is_rejected(case: tuple[dict[str, Any], str]) -> None:
    changed, _ = case
    with pytest.raises(FeedbackRejected):
        signer().verify(changed)


@given(st.sampled_from(["ttl", "feedbackType", "trackingInfo", "kid", "expiresAt"]))
def test_removed_or_added_members_are_rejected(member: str) -> None:
    signed = signer().sign(CLICK)
    removed = {k: v for k, v in signed.items() if k != member}
    with pytest.raises(FeedbackRejected):
        signer().verify(removed)
    with pytest.raises(FeedbackRejected):
        signer().verify({**signed, "extra": 1})


def test_tracking_json_round_trip_and_shape_errors() -> None:
    info = tracking()
    assert Tracking.from_json(info.to_json()) == info
    with pytest.raises(FeedbackError):
        Tracking.from_json({**info.to_json(), "messageId": "1001"})
    with pytest.raises(FeedbackError):
        Tracking.from_json({**info.to_json(), "abTestId": True})
    with pytest.raises(FeedbackError):
        FeedbackBody.from_json({**CLICK.to_json(), "actionType": "FLY"})
    with pytest.raises(FeedbackError):
        FeedbackBody(0, FeedbackType.IMPRESSION, info)
    with pytest.raises(FeedbackError):
        FeedbackBody(60, FeedbackType.IMPRESSION, info, ActionType.DISMISS, "X")
    with pytest.raises(FeedbackError):
        FeedbackBody(60, FeedbackType.CTA, info)
