"""Voice calls through Twilio's Calls resource: inline TwiML that speaks the copy."""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from clarion.channels.base import Outgoing
from clarion.channels.twilio_client import (
    Senders,
    TwilioClient,
    TwilioProvider,
    copy_of,
    require_phone,
)
from clarion.core.markup import parse
from clarion.core.model import Channel

#: Languages ``<Say>`` speaks (Twilio's text-to-speech language list), and the one a
#: bare language code maps to. Anything else is spoken as ``en-US``.
SAY_LANGUAGES = frozenset(
    {
        "ar-AE", "ca-ES", "cmn-CN", "cy-GB", "da-DK", "de-AT", "de-DE", "en-AU", "en-GB",
        "en-IE", "en-IN", "en-NZ", "en-US", "en-ZA", "es-ES", "es-MX", "es-US", "fi-FI",
        "fr-CA", "fr-FR", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO", "nl-BE",
        "nl-NL", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sv-SE", "tr-TR", "yue-CN",
    }
)  # fmt: skip
_BY_LANGUAGE: Mapping[str, str] = {
    "ar": "ar-AE", "ca": "ca-ES", "cy": "cy-GB", "da": "da-DK", "de": "de-DE", "en": "en-US",
    "es": "es-ES", "fi": "fi-FI", "fr": "fr-FR", "hi": "hi-IN", "is": "is-IS", "it": "it-IT",
    "ja": "ja-JP", "ko": "ko-KR", "nb": "nb-NO", "no": "nb-NO", "nl": "nl-NL", "pl": "pl-PL",
    "pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU", "sv": "sv-SE", "tr": "tr-TR", "zh": "cmn-CN",
}  # fmt: skip
DEFAULT_LANGUAGE = "en-US"


def say_language(locale: str) -> str:
    """The ``<Say>`` language for a Clarion locale (``pt-BR``, ``pt_BR``, ``pt``)."""
    parts = locale.replace("_", "-").split("-")
    language = parts[0].lower()
    if len(parts) > 1:
        exact = f"{language}-{parts[-1].upper()}"
        if exact in SAY_LANGUAGES:
            return exact
    return _BY_LANGUAGE.get(language, DEFAULT_LANGUAGE)


def spoken(text: str) -> str:
    """Copy markup as speech: bold is just text, a link is its text (URLs are not read out)."""
    return "".join(element.content for element in parse(text))


def twiml(text: str, language: str, voice: str | None = None) -> str:
    """A TwiML document that says ``text`` (XML-escaped) in ``language``."""
    attributes = f"language={quoteattr(language)}"
    if voice:
        attributes += f" voice={quoteattr(voice)}"
    return f"<Response><Say {attributes}>{escape(text)}</Say></Response>"


class TwilioVoiceProvider(TwilioProvider):
    """Calls the profile's number and speaks the localized copy.

    The language comes from the copy's locale; ``voices`` may name a voice per
    ``<Say>`` language (e.g. ``{"pt-BR": "Polly.Camila"}``), else Twilio's default
    voice for the language speaks. The receipt's ``ref`` is the Call SID.
    """

    resource = "Calls"
    channels = frozenset({Channel.VOICE})

    def __init__(
        self,
        client: TwilioClient,
        callers: Senders,
        *,
        name: str = "twilio_voice",
        status_callback: str | None = None,
        voices: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(client, name)
        self._callers = callers
        self._status_callback = status_callback
        self._voices = dict(voices or {})

    def form(self, message: Outgoing) -> list[tuple[str, str]]:
        """The form fields of the Calls request for ``message``."""
        phone = require_phone(message)
        language = say_language(message.locale)
        form = [
            ("To", phone),
            ("From", self._callers.sender_for(phone, message.country)),
            ("Twiml", twiml(spoken(copy_of(message)), language, self._voices.get(language))),
        ]
        if self._status_callback:
            # Twilio's default callback event is "completed", which carries the outcome
            # (completed, busy, no-answer, failed, canceled).
            form.append(("StatusCallback", self._status_callback))
            form.append(("StatusCallbackMethod", "POST"))
        return form
