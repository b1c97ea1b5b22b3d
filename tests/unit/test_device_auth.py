"""Device tokens: HS256 only, exp required, kid selects the secret, aud checked when set."""

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.inapp import DeviceAuthenticator, DeviceAuthError, DeviceIdentity, issue_device_token

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
SECRET = b"s" * 32
HOUR = timedelta(hours=1)


def auth(audience: str | None = None, at: datetime = T0, **secrets: bytes) -> DeviceAuthenticator:
    return DeviceAuthenticator(secrets or {"default": SECRET}, audience, lambda: at)


def reason(authenticator: DeviceAuthenticator, token: str) -> str:
    with pytest.raises(DeviceAuthError) as caught:
        authenticator.authenticate(token)
    return caught.value.reason


def test_round_trip() -> None:
    token = issue_device_token(SECRET, "ana", HOUR, now=T0, token_id="t-1")
    assert auth().authenticate(token) == DeviceIdentity("ana", "t-1")
    assert auth().authenticate(issue_device_token(SECRET, "ana", HOUR, now=T0)).token_id is None


def test_kid_selects_the_secret() -> None:
    other = b"o" * 32
    authenticator = auth(default=SECRET, mobile=other)
    assert authenticator.authenticate(issue_device_token(other, "ana", HOUR, "mobile", now=T0))
    assert (
        reason(authenticator, issue_device_token(other, "ana", HOUR, "tv", now=T0)) == "unknown_key"
    )
    assert reason(authenticator, issue_device_token(SECRET, "ana", HOUR, "mobile", now=T0)) == (
        "bad_signature"
    )


def test_a_token_without_kid_needs_a_default_secret() -> None:
    token = issue_device_token(SECRET, "ana", HOUR, now=T0)
    assert reason(auth(mobile=SECRET), token) == "unknown_key"


def test_expiry_with_leeway() -> None:
    token = issue_device_token(SECRET, "ana", HOUR, now=T0)
    assert auth(at=T0 + HOUR + timedelta(seconds=29)).authenticate(token).profile_id == "ana"
    assert reason(auth(at=T0 + HOUR + timedelta(seconds=30)), token) == "expired"


def test_not_before_and_issued_in_the_future() -> None:
    future = jwt.encode(
        {"sub": "ana", "exp": T0.timestamp() + 7200, "nbf": T0.timestamp() + 60}, SECRET
    )
    assert reason(auth(), future) == "not_yet_valid"
    early = issue_device_token(SECRET, "ana", HOUR, now=T0 + timedelta(minutes=5))
    assert reason(auth(), early) == "not_yet_valid"
    assert auth().authenticate(
        issue_device_token(SECRET, "ana", HOUR, now=T0 + timedelta(seconds=20))
    )


def test_required_claims() -> None:
    no_exp = jwt.encode({"sub": "ana"}, SECRET, algorithm="HS256")
    no_sub = jwt.encode({"exp": T0.timestamp() + 60}, SECRET, algorithm="HS256")
    assert reason(auth(), no_exp) == "missing_claim"
    assert reason(auth(), no_sub) == "missing_claim"
    empty_sub = jwt.encode({"sub": "", "exp": T0.timestamp() + 60}, SECRET, algorithm="HS256")
    assert reason(auth(), empty_sub) == "malformed"
    text_exp = jwt.encode({"sub": "ana", "exp": "later"}, SECRET, algorithm="HS256")
    assert reason(auth(), text_exp) == "malformed"


def test_audience() -> None:
    for_app = issue_device_token(SECRET, "ana", HOUR, now=T0, audience="clarion")
    for_other = issue_device_token(SECRET, "ana", HOUR, now=T0, audience="billing")
    without = issue_device_token(SECRET, "ana", HOUR, now=T0)
    assert auth("clarion").authenticate(for_app).profile_id == "ana"
    assert reason(auth("clarion"), for_other) == "bad_audience"
    assert reason(auth("clarion"), without) == "bad_audience"
    assert auth().authenticate(for_other).profile_id == "ana"  # no audience configured


def segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_and_other_algorithms_are_refused() -> None:
    claims = {"sub": "ana", "exp": int(T0.timestamp()) + 60}
    unsigned = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."
    assert reason(auth(), unsigned) == "bad_algorithm"
    hs512 = jwt.encode(claims, SECRET * 2, algorithm="HS512")
    assert reason(auth(), hs512) == "bad_algorithm"
    # The header says HS256 but the signature is HS512's: still just a bad signature.
    good = issue_device_token(SECRET, "ana", HOUR, now=T0)
    forged = ".".join([*good.split(".")[:2], hs512.split(".")[2]])
    assert reason(auth(), forged) == "bad_signature"


def test_tampered_claims() -> None:
    header, _, signature = issue_device_token(SECRET, "ana", HOUR, now=T0).split(".")
    other = segment({"sub": "bob", "exp": int(T0.timestamp()) + 3600})
    assert reason(auth(), f"{header}.{other}.{signature}") == "bad_signature"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a" * 5000, "..."])
def test_garbage_is_malformed(token: str) -> None:
    assert reason(auth(), token) == "malformed"


@given(st.text(max_size=300))
def test_never_raises_anything_else(token: str) -> None:
    with contextlib.suppress(DeviceAuthError):
        auth().authenticate(token)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DeviceAuthenticator({"default": b"short"}, None, lambda: T0)
    with pytest.raises(ValueError, match="32 bytes"):
        issue_device_token(b"short", "ana", HOUR)


def test_a_remembered_token_still_expires_with_the_clock() -> None:
    now = [T0]
    authenticator = DeviceAuthenticator({"default": SECRET}, None, lambda: now[0])
    token = issue_device_token(SECRET, "ana", HOUR, now=T0)
    assert authenticator.authenticate(token).profile_id == "ana"
    assert authenticator.authenticate(token).profile_id == "ana"  # from the cache
    now[0] = T0 + HOUR + timedelta(seconds=31)  # past exp and the leeway
    assert reason(authenticator, token) == "expired"


def test_a_remembered_token_is_not_valid_before_its_time() -> None:
    now = [T0]
    authenticator = DeviceAuthenticator({"default": SECRET}, None, lambda: now[0])
    token = issue_device_token(SECRET, "ana", HOUR, now=T0)
    assert authenticator.authenticate(token)
    now[0] = T0 - timedelta(minutes=5)  # the clock stepped back: iat is in the future
    assert reason(authenticator, token) == "not_yet_valid"


def test_the_token_cache_is_bounded_and_never_holds_rejected_tokens() -> None:
    authenticator = DeviceAuthenticator({"default": SECRET}, None, lambda: T0, cache_size=2)
    tokens = [issue_device_token(SECRET, f"p{i}", HOUR, now=T0) for i in range(5)]
    for _ in range(2):
        assert [authenticator.authenticate(t).profile_id for t in tokens] == [
            f"p{i}" for i in range(5)
        ]
    assert authenticator.remembered == 2
    forged = issue_device_token(b"x" * 32, "p0", HOUR, now=T0)
    for _ in range(2):
        assert reason(authenticator, forged) == "bad_signature"
    assert not authenticator.remembers(forged)
