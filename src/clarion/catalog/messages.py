"""One message file (``messages/<name>.yaml``) into a ``MessageSpec``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from clarion.catalog import reader
from clarion.catalog.cancel_on import PAYLOAD_PATH, check_cancel_scopes, read_cancel_on
from clarion.catalog.escalation import read_escalation
from clarion.catalog.example import read_example
from clarion.catalog.experiments import (
    CellReaders,
    check_measurement,
    experiment_references,
    read_experiment,
    read_holdout,
)
from clarion.catalog.inapp import follow_up_references
from clarion.catalog.reader import Shape, Where
from clarion.catalog.steps import STRING_KEY, read_channels, read_content
from clarion.core.predicate import Compiler, Predicate, PredicateError
from clarion.core.segment import SEGMENTS
from clarion.core.spec import (
    Audience,
    Cap,
    ChannelMode,
    ChannelStep,
    Dedup,
    Goal,
    MessageSpec,
    Rung,
    Timing,
)

NAME: Final = Shape(re.compile(r"[a-z0-9_]+"), "lowercase letters, digits and '_'")

_KEYS: Final = (
    "name",
    "id",
    "category",
    "trigger",
    "audience",
    "segment",
    "channel_mode",
    "channels",
    "timing",
    "caps",
    "dedup",
    "goal",
    "escalation",
    "example",
    "holdout",
    "experiment",
)
_TIMING_KEYS: Final = ("delay", "window", "quiet_hours", "expires_after", "cancel_on")

_conditions = Compiler()
_segments = SEGMENTS


@dataclass(frozen=True, slots=True)
class MessageFile:
    """What one message file declares: its spec when valid, and, valid or not, what
    the checks across files need (so a file's own error hides none of theirs)."""

    file: str
    spec: MessageSpec | None
    id: int | None
    references: tuple[tuple[str, str], ...]  # (key path, string key) of content fields
    #: Whether the file declares ``holdout`` (else the catalog's default may apply).
    declares_holdout: bool = False


def read_message_file(where: Where, value: object, stem: str) -> MessageFile:
    """One message file, with every problem in it recorded at ``where``."""
    spec = read_message(where, value, stem)
    data = value if isinstance(value, Mapping) else {}
    raw_id = data.get("id")
    spec_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    references = _references(data.get("channels")) + tuple(
        experiment_references(data.get("experiment"), _references, STRING_KEY.regex.fullmatch)
    )
    return MessageFile(where.file, spec, spec_id, references, "holdout" in data)


def _references(steps: object) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for index, step in enumerate(steps if isinstance(steps, list) else ()):
        content = step.get("content") if isinstance(step, Mapping) else None
        for field, key in content.items() if isinstance(content, Mapping) else ():
            # Malformed keys are reported by ``_content``; looking them up adds nothing.
            if isinstance(key, str) and STRING_KEY.regex.fullmatch(key):
                found.append((f"channels[{index}].content.{field}", key))
        found.extend(follow_up_references(index, step))
    return tuple(found)


def read_message(where: Where, value: object, stem: str) -> MessageSpec | None:
    """The message in one file, or ``None`` after recording every problem found in it."""
    before = len(where.issues)
    required = ("name", "id", "category", "trigger", "channels")
    data = reader.mapping(where, value, _KEYS, required=required)
    if data is None:
        return None
    name = _name(where.at("name"), data.get("name"), stem) if "name" in data else None
    spec_id = reader.positive_int(where.at("id"), data["id"]) if "id" in data else None
    category = reader.text(where.at("category"), data["category"]) if "category" in data else None
    trigger, condition = (
        _trigger(where.at("trigger"), data["trigger"]) if "trigger" in data else (None, None)
    )
    audience = reader.optional(where, data, "audience", lambda w, v: reader.choice(w, v, Audience))
    segment = reader.optional(where, data, "segment", _segment)
    mode = reader.optional(
        where, data, "channel_mode", lambda w, v: reader.choice(w, v, ChannelMode)
    )
    channels = read_channels(where.at("channels"), data["channels"]) if "channels" in data else None
    timing = reader.optional(where, data, "timing", _timing)
    caps = reader.optional(where, data, "caps", lambda w, v: _cap_list(w, v, stem))
    dedup = reader.optional(where, data, "dedup", _dedup)
    goal = reader.optional(where, data, "goal", _goal)
    example = reader.optional(where, data, "example", read_example)
    escalation = _ladder(where, data, channels, mode)
    holdout = reader.optional(where, data, "holdout", read_holdout)
    if len(where.issues) > before:
        return None
    # Every reader above succeeded, so the required values are present.
    assert name is not None and spec_id is not None and category is not None
    assert trigger is not None and channels is not None
    spec = MessageSpec(
        name=name,
        id=spec_id,
        category=category,
        trigger=trigger,
        channels=channels,
        condition=condition,
        condition_data=_condition_data(data["trigger"]),
        audience=audience or Audience.PROFILE,
        segment=segment,
        channel_mode=mode or ChannelMode.ALL,
        timing=timing or Timing(),
        caps=caps or (),
        dedup=dedup,
        goal=goal,
        example=example,
        escalation=escalation or (),
        source=where.file,
        holdout=holdout or 0.0,
    )
    if "experiment" in data:
        at = where.at("experiment")
        readers = CellReaders(
            read_channels, _timing, read_content, lambda w, v: _cap_list(w, v, stem)
        )
        tested = read_experiment(at, data["experiment"], spec, data.get("timing"), readers)
        spec = tested or spec
    check_measurement(where, spec, "holdout" in data)
    check_cancel_scopes(where.at("timing").at("cancel_on"), spec)
    return spec if len(where.issues) == before else None


def _cap_list(where: Where, value: object, stem: str) -> tuple[Cap, ...] | None:
    return reader.caps(where, value, f"message:{stem}")


def _ladder(
    where: Where,
    data: Mapping[str, object],
    channels: tuple[ChannelStep, ...] | None,
    mode: ChannelMode | None,
) -> tuple[Rung, ...] | None:
    if "escalation" not in data or channels is None:
        return None  # without valid channels, the rungs cannot be checked
    if mode is ChannelMode.FIRST:
        where.at("escalation").error("a ladder needs channel_mode: all (the default)")
        return None
    return read_escalation(where.at("escalation"), data["escalation"], channels)


def _name(where: Where, value: object, stem: str) -> str | None:
    name = reader.text(where, value, NAME)
    if name is not None and name != stem:
        where.error(f"name {name!r} must equal the file name {stem!r}")
        return None
    return name


def _trigger(where: Where, value: object) -> tuple[str | None, Predicate | None]:
    data = reader.mapping(where, value, ("event", "condition"), required=("event",))
    if data is None or "event" not in data:
        return None, None
    event = reader.text(where.at("event"), data["event"], reader.EVENT_NAME)
    condition = None
    if "condition" in data:
        condition = _predicate(where.at("condition"), data["condition"], _conditions)
    return event, condition


def _condition_data(trigger: object) -> Mapping[str, object] | None:
    """The condition as declared, kept to explain why an event did not meet it."""
    condition = trigger.get("condition") if isinstance(trigger, Mapping) else None
    return condition if isinstance(condition, Mapping) else None


def _segment(where: Where, value: object) -> Predicate | None:
    return _predicate(where, value, _segments)


def _predicate(where: Where, value: object, compiler: Compiler) -> Predicate | None:
    try:
        return compiler.compile(value)
    except PredicateError as exc:
        (where.at(exc.path) if exc.path else where).error(exc.problem)
        return None


def _timing(where: Where, value: object) -> Timing | None:
    before = len(where.issues)
    data = reader.mapping(where, value, _TIMING_KEYS)
    if data is None:
        return None
    delay = reader.optional(
        where, data, "delay", lambda w, v: reader.duration(w, v, allow_zero=True)
    )
    window = reader.optional(where, data, "window", reader.local_window)
    quiet = None
    ignore_quiet = data.get("quiet_hours") == "none"
    if "quiet_hours" in data and not ignore_quiet:
        quiet = reader.local_window(where.at("quiet_hours"), data["quiet_hours"], with_days=False)
    expires = reader.optional(where, data, "expires_after", reader.duration)
    cancel_on = reader.optional(where, data, "cancel_on", read_cancel_on)
    if len(where.issues) > before:
        return None
    return Timing(
        delay=delay or timedelta(0),
        window=window,
        quiet_hours=quiet,
        ignore_quiet_hours=ignore_quiet,
        expires_after=expires,
        cancel_on=cancel_on[0] if cancel_on else (),
        cancel_match=cancel_on[1] if cancel_on else {},
    )


def _dedup(where: Where, value: object) -> Dedup | None:
    data = reader.mapping(where, value, ("key", "window"), required=("key", "window"))
    if data is None or "key" not in data or "window" not in data:
        return None
    key = reader.text(where.at("key"), data["key"], PAYLOAD_PATH)
    window = reader.duration(where.at("window"), data["window"])
    return Dedup(tuple(key.split(".")), window) if key and window else None


def _goal(where: Where, value: object) -> Goal | None:
    data = reader.mapping(where, value, ("event", "within"), required=("event", "within"))
    if data is None or "event" not in data or "within" not in data:
        return None
    event = reader.text(where.at("event"), data["event"], reader.EVENT_NAME)
    within = reader.duration(where.at("within"), data["within"])
    return Goal(event, within) if event and within else None
