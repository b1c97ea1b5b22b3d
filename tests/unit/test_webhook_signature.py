from hypothesis import given
from hypothesis import strategies as st

from clarion.channels.webhook import signature_header, verify_signature

SECRET = "whsec_test"
NOW = 1_700_000_000


def test_round_trip() -> None:
    header = signature_header(SECRET, NOW, b'{"a":1}')
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(SECRET, header, b'{"a":1}', NOW + 10)


def test_known_vector() -> None:
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
    vector = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
    assert signature_header(SECRET, NOW, b"{}") == f"t={NOW},v1={vector}"


def test_rejects_tampered_body_wrong_secret_and_stale_time() -> None:
    header = signature_header(SECRET, NOW, b"{}")
    assert not verify_signature(SECRET, header, b"{ }", NOW)
    assert not verify_signature("other", header, b"{}", NOW)
    assert not verify_signature(SECRET, header, b"{}", NOW + 301)
    assert not verify_signature(SECRET, header, b"{}", NOW - 301)
    assert verify_signature(SECRET, header, b"{}", NOW + 301, tolerance=600)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = signature_header(SECRET, NOW, b"{}").split(",")[1]
    assert verify_signature(SECRET, f"t={NOW}, v1=deadbeef, {good}", b"{}", NOW)


def test_rejects_malformed_headers() -> None:
    good = signature_header(SECRET, NOW, b"{}")
    v1 = good.split(",")[1]
    for header in ["", "garbage", v1, f"t=,{v1}", f"t=abc,{v1}", f"t={NOW}", f"t=-{NOW},{v1}"]:
        assert not verify_signature(SECRET, header, b"{}", NOW), header


@given(st.text(), st.binary())
def test_never_raises_on_arbitrary_input(header: str, body: bytes) -> None:
    assert verify_signature(SECRET, header, body, NOW) in (True, False)
