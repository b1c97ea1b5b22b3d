"""Voice: TwiML and the <Say> language of a locale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from clarion.channels.twilio_voice import say_language, spoken, twiml


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("pt-BR", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-PT"),
        ("es-MX", "es-MX"),
        ("es-AR", "es-ES"),  # no Argentine voice: the language's default
        ("en", "en-US"),
        ("zh-Hant-TW", "cmn-CN"),
        ("xx", "en-US"),
    ],
)
def test_say_language(locale: str, language: str) -> None:
    assert say_language(locale) == language


def test_twiml_escapes_text_and_attributes() -> None:
    document = twiml('<Hangup/> & "quotes"', 'en-US" foo="bar', "Polly.Joanna")

    say = ET.fromstring(document).find("Say")
    assert say is not None
    assert say.text == '<Hangup/> & "quotes"'
    assert say.attrib == {"language": 'en-US" foo="bar', "voice": "Polly.Joanna"}
    assert ET.fromstring(twiml("hi", "en-US")).find("Say").attrib == {"language": "en-US"}  # type: ignore[union-attr]


def test_spoken_copy_drops_markup_and_urls() -> None:
    assert spoken("**Hi**\n[Pay](https://x.example/p) now") == "Hi\nPay now"
