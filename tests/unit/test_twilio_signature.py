"""X-Twilio-Signature: our implementation against Twilio's documented example and
against Twilio's own RequestValidator (the ``twilio`` package, tests only)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from clarion.channels.twilio_signature import compute_signature, verify_signature

# The example of Twilio's "Webhooks security" documentation.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOC_TOKEN = "12345"
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_documented_example() -> None:
    assert compute_signature(DOC_URL, DOC_PARAMS, DOC_TOKEN) == DOC_SIGNATURE
    assert verify_signature([DOC_URL], DOC_PARAMS, [DOC_TOKEN], DOC_SIGNATURE)


def test_parameter_order_does_not_matter_but_every_byte_does() -> None:
    assert verify_signature([DOC_URL], DOC_PARAMS[::-1], [DOC_TOKEN], DOC_SIGNATURE)
    tampered = [*DOC_PARAMS[:-1], ("To", "+18005551213")]
    assert not verify_signature([DOC_URL], tampered, [DOC_TOKEN], DOC_SIGNATURE)
    assert not verify_signature([DOC_URL + "&x=1"], DOC_PARAMS, [DOC_TOKEN], DOC_SIGNATURE)
    assert not verify_signature([DOC_URL], DOC_PARAMS, ["54321"], DOC_SIGNATURE)
    assert not verify_signature([DOC_URL], DOC_PARAMS, [DOC_TOKEN], "")


def test_any_configured_token_and_url_may_verify() -> None:
    urls = ["https://other.example.com/x", DOC_URL]
    assert verify_signature(urls, DOC_PARAMS, ["wrong", DOC_TOKEN], DOC_SIGNATURE)


def test_default_ports_are_tried_both_ways() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signed_with_port = compute_signature(with_port, DOC_PARAMS, DOC_TOKEN)
    assert verify_signature([DOC_URL], DOC_PARAMS, [DOC_TOKEN], signed_with_port)
    assert verify_signature([with_port], DOC_PARAMS, [DOC_TOKEN], DOC_SIGNATURE)


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@given(
    params=st.dictionaries(st.text(st.characters(codec="ascii"), min_size=1, max_size=10), _text),
    token=st.text(min_size=1, max_size=32),
    path=st.text(st.characters(min_codepoint=97, max_codepoint=122), max_size=12),
)
def test_agrees_with_twilios_request_validator(
    params: dict[str, str], token: str, path: str
) -> None:
    url = f"https://clarion.example.com/{path}?a=1"
    reference = RequestValidator(token)
    expected = reference.compute_signature(url, params)
    assert compute_signature(url, params.items(), token) == expected
    assert verify_signature([url], list(params.items()), [token], expected)
    assert reference.validate(url, params, compute_signature(url, params.items(), token))
