"""What a catalog step of each channel may declare: its content fields and its options.

Each channel's options are a frozen dataclass whose fields are the options, and whose
field metadata holds each option's check; the catalog reports a failed check at the
option's file and key when it loads, and the dataclass refuses the same values when
built in code, so a misspelled or mistyped option never waits for a provider to find
it. Rendered copy reaches a provider typed by its channel as well (``ChannelCopy``).

``CONTRACTS`` holds one ``Contract`` per channel (a test checks every channel has
one). In-app steps are declared by ``clarion.core.inapp_spec`` (their template decides
their fields); webhook content is forwarded as is, so any field names are allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from clarion.core.model import Channel

#: A check of one option's value: the problem with it, or None when it is fine.
Check = Callable[[object], str | None]


def _text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return None
    return f"expected a non-empty string, got {value!r}"


def _count(value: object) -> str | None:
    # bool is an int to Python, not to a reader of the catalog.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return f"expected a whole number of at least 0, got {value!r}"


def _one_of(*choices: str) -> Check:
    def check(value: object) -> str | None:
        if value in choices:
            return None
        return f"expected one of {', '.join(choices)}, got {value!r}"

    return check


def _http_url(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and " " not in value:
        return None
    return f"expected an http(s) URL, got {value!r}"


def _option(check: Check, default: object = None) -> Any:
    # ``Any``: a dataclass field's declared type is the option's, whatever the default.
    return field(default=default, metadata={"check": check})


def check_options(options: object) -> None:
    """Raise ``ValueError`` naming the first option of ``options`` whose value fails its
    check (``None`` stands for "not given" wherever the default is ``None``)."""
    for f in fields(options):  # type: ignore[arg-type]
        value = getattr(options, f.name)
        problem = None if value is None and f.default is None else f.metadata["check"](value)
        if problem is not None:
            raise ValueError(f"option {f.name!r}: {problem}")


@dataclass(frozen=True, slots=True)
class NoOptions:
    """The options of a channel that takes none (email, SMS, voice)."""


@dataclass(frozen=True, slots=True)
class PushOptions:
    """A push step's options (docs/push.md, "What is sent")."""

    deep_link: str | None = _option(_text)
    sound: str | None = _option(_text)
    badge: int | None = _option(_count)
    priority: str = _option(_one_of("high", "normal"), "high")
    ttl: int | None = _option(_count)  # seconds; None: the provider's default

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """A webhook step's options: ``url`` overrides the provider's endpoint."""

    url: str | None = _option(_http_url)

    def __post_init__(self) -> None:
        check_options(self)


#: A step's options, typed by its channel (in-app steps: ``NoOptions`` here, their
#: alert in ``ChannelStep.inapp``).
ChannelOptions = NoOptions | PushOptions | WebhookOptions


@dataclass(frozen=True, slots=True)
class EmailCopy:
    """An email's localized copy, in copy markup (``clarion.core.markup``)."""

    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class PushCopy:
    """A push notification's localized copy, in copy markup."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class TextCopy:
    """The copy of an SMS or a call, in copy markup: the ``body`` field, or every field
    in order (one per line) for a message built without one."""

    body: str


@dataclass(frozen=True, slots=True)
class FieldsCopy:
    """The copy of a channel whose fields are free (webhook, in-app), by field."""

    fields: Mapping[str, str]


#: The localized copy a provider is handed, typed by the message's channel.
ChannelCopy = EmailCopy | PushCopy | TextCopy | FieldsCopy


def _email_copy(fields: Mapping[str, str]) -> ChannelCopy:
    # Absent fields are empty: providers refuse empty copy with their own error code.
    return EmailCopy(fields.get("subject", ""), fields.get("body", ""))


def _push_copy(fields: Mapping[str, str]) -> ChannelCopy:
    return PushCopy(fields.get("title", ""), fields.get("body", ""))


def _text_copy(fields: Mapping[str, str]) -> ChannelCopy:
    body = fields.get("body")
    return TextCopy(body if body is not None else "\n".join(t for t in fields.values() if t))


@dataclass(frozen=True, slots=True)
class Contract:
    """What a step of ``channel`` may declare.

    ``fields`` are the content fields it takes (``None``: any, checked elsewhere or
    not at all), of which every one in ``required`` and at least one of ``one_of``
    must be present. ``options`` is the dataclass of its options (``None``: checked
    elsewhere, as in-app's are). ``copy`` makes the typed copy a provider is handed
    from the rendered fields.
    """

    channel: Channel
    fields: tuple[str, ...] | None
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    options: type[ChannelOptions] | None = NoOptions
    copy: Callable[[Mapping[str, str]], ChannelCopy] = FieldsCopy

    def option_checks(self) -> Mapping[str, Check]:
        """Each option's check, by name, in declaration order."""
        if self.options is None:
            return {}
        return {f.name: f.metadata["check"] for f in fields(self.options)}


CONTRACTS: Final[Mapping[Channel, Contract]] = {
    Channel.INAPP: Contract(Channel.INAPP, fields=None, options=None),
    Channel.PUSH: Contract(
        Channel.PUSH,
        ("title", "body"),
        one_of=("title", "body"),
        options=PushOptions,
        copy=_push_copy,
    ),
    Channel.EMAIL: Contract(
        Channel.EMAIL, ("subject", "body"), required=("subject", "body"), copy=_email_copy
    ),
    Channel.SMS: Contract(Channel.SMS, ("body",), required=("body",), copy=_text_copy),
    Channel.VOICE: Contract(Channel.VOICE, ("body",), required=("body",), copy=_text_copy),
    Channel.WEBHOOK: Contract(Channel.WEBHOOK, fields=None, options=WebhookOptions),
}
