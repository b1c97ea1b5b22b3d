"""Signed email tracking tokens: what they carry, and what a forged one gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clarion.channels.email_tracking import EmailTracking, TokenRejected, Tracked
from clarion.config import Settings
from clarion.signing import KeyRing, b64url, canonical_json

KEY = b"k" * 32
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def tracking(clock: Clock | None = None, **keys: bytes) -> EmailTracking:
    ring = KeyRing(keys or {"k1": KEY}, next(iter(keys or {"k1": KEY})))
    return EmailTracking("https://t.example.com/", ring, clock or Clock(), timedelta(days=30))


def token_of(url: str, prefix: str) -> str:
    assert url.startswith(prefix)
    return url.removeprefix(prefix).removesuffix(".gif")


def test_open_and_click_tokens_round_trip() -> None:
    t = tracking()
    opened = token_of(t.pixel_url("G1"), "https://t.example.com/v1/t/o/")
    clicked = token_of(t.click_url("G1", "https://x.io/?a=1&b=2"), "https://t.example.com/v1/t/c/")
    expires = int(T0.timestamp()) + 30 * 86400

    assert t.verify(opened, "open") == Tracked("open", "G1", None, expires)
    assert t.verify(clicked, "click") == Tracked("click", "G1", "https://x.io/?a=1&b=2", expires)


def test_only_web_links_are_rewritten() -> None:
    rewrite = tracking().link_rewriter("G1")
    assert rewrite("https://x.io/").startswith("https://t.example.com/v1/t/c/k1.")
    assert rewrite("http://x.io/").startswith("https://t.example.com/v1/t/c/k1.")
    assert rewrite("mailto:help@x.io") == "mailto:help@x.io"
    assert rewrite("/account") == "/account"


def _forge(payload: dict[str, object], kid: str = "k1", signature: str = "AAAA") -> str:
    return f"{kid}.{b64url(canonical_json(payload))}.{signature}"


def test_an_altered_url_or_guid_fails_the_signature() -> None:
    t = tracking()
    kid, payload, signature = t.token("click", "G1", "https://x.io/").split(".")
    evil = {"t": "c", "g": "G1", "x": 2**40, "u": "https://evil.example/"}
    with pytest.raises(TokenRejected) as raised:
        t.verify(_forge(evil, kid, signature), "click")
    assert raised.value.reason == "bad_signature"
    with pytest.raises(TokenRejected) as raised:
        t.verify(f"{kid}.{payload}.{signature[:-2]}xx", "click")
    assert raised.value.reason == "bad_signature"


def test_a_token_signed_with_another_key_is_rejected() -> None:
    other = tracking(k1=b"o" * 32).token("click", "G1", "https://evil.example/")
    with pytest.raises(TokenRejected) as raised:
        tracking().verify(other, "click")
    assert raised.value.reason == "bad_signature"
    with pytest.raises(TokenRejected) as raised:
        tracking().verify(tracking(k9=KEY).token("open", "G1"), "open")
    assert raised.value.reason == "unknown_key"


def test_rotated_keys_still_verify_old_tokens() -> None:
    old = tracking(old=KEY).token("open", "G1")
    ring = KeyRing({"new": b"n" * 32, "old": KEY}, "new")
    rotated = EmailTracking("https://t.example.com", ring, Clock())
    assert rotated.verify(old, "open").guid == "G1"
    assert rotated.token("open", "G1").startswith("new.")


def test_expired_tokens_are_rejected() -> None:
    clock = Clock()
    t = tracking(clock)
    token = t.token("click", "G1", "https://x.io/")
    clock.now = T0 + timedelta(days=30)
    with pytest.raises(TokenRejected) as raised:
        t.verify(token, "click")
    assert raised.value.reason == "expired"


def test_an_open_token_is_not_a_click_token() -> None:
    t = tracking()
    with pytest.raises(TokenRejected) as raised:
        t.verify(t.token("open", "G1"), "click")
    assert raised.value.reason == "malformed"


@pytest.mark.parametrize("token", ["", "k1", "k1.abc", "..", "k1..sig", "k1.abc.", ".a.b"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(TokenRejected) as raised:
        tracking().verify(token, "open")
    assert raised.value.reason in ("malformed", "unknown_key")


def test_key_ids_must_be_url_safe() -> None:
    with pytest.raises(ValueError, match="key ids"):
        EmailTracking("https://t", KeyRing({"a.b": KEY}, "a.b"), Clock())


def test_a_signed_payload_of_the_wrong_shape_is_malformed() -> None:
    ring = KeyRing({"k1": KEY}, "k1")
    signed = f"k1.{b64url(canonical_json({'t': 'c', 'g': 'G1', 'x': 2**40}))}"  # no url
    with pytest.raises(TokenRejected) as raised:
        tracking().verify(f"{signed}.{ring.mac('k1', signed.encode())}", "click")
    assert raised.value.reason == "malformed"


def test_settings_require_tracking_keys_with_a_public_url() -> None:
    with pytest.raises(ValidationError, match="tracking_keys"):
        Settings(public_url="https://clarion.example.com")
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(public_url="https://clarion.example.com", tracking_keys={"k1": "short"})
    settings = Settings(public_url="https://c.example.com/", tracking_keys={"a": "x" * 32})
    links = settings.email_tracking(Clock())
    assert links is not None and links.pixel_url("G").startswith("https://c.example.com/v1/t/o/a.")
    assert Settings().email_tracking(Clock()) is None
