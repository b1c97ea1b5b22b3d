"""``timing.cancel_on``: event types that cancel a pending message, optionally scoped.

    cancel_on:
      - signup.completed                          # any such event of the profile
      - {event: play.started, match: [show_id]}   # only with the same show_id

``match`` lists dotted payload paths whose values must equal the triggering event's.
"""

from __future__ import annotations

from typing import Final

from clarion.catalog import reader
from clarion.catalog.reader import Shape, Where
from clarion.catalog.steps import STRING_KEY
from clarion.core.cancel import value_at
from clarion.core.spec import MessageSpec

PAYLOAD_PATH: Final = Shape(STRING_KEY.regex, "a dotted path into the payload such as show.id")

#: (event types in order, scoped ones: event type -> payload paths)
CancelOnSpec = tuple[tuple[str, ...], dict[str, tuple[tuple[str, ...], ...]]]


def read_cancel_on(where: Where, value: object) -> CancelOnSpec | None:
    """The entries of ``cancel_on``, or None after recording every problem."""
    if not isinstance(value, list):
        where.error(f"expected a list, got {type(value).__name__}")
        return None
    before = len(where.issues)
    names: list[str] = []
    scopes: dict[str, tuple[tuple[str, ...], ...]] = {}
    for i, item in enumerate(value):
        at = where.at(i)
        if isinstance(item, str):
            name, paths = reader.text(at, item, reader.EVENT_NAME), None
        elif isinstance(item, dict):
            name, paths = _scoped(at, item)
        else:
            at.error(f"expected an event type or {{event, match}}, got {type(item).__name__}")
            continue
        if name is None:
            continue
        if name in names:
            at.error(f"{name!r} is listed twice")
            continue
        names.append(name)
        if paths:
            scopes[name] = paths
    return (tuple(names), scopes) if len(where.issues) == before else None


def _scoped(where: Where, item: object) -> tuple[str | None, tuple[tuple[str, ...], ...] | None]:
    data = reader.mapping(where, item, ("event", "match"), required=("event", "match"))
    if data is None or "event" not in data or "match" not in data:
        return None, None
    name = reader.text(where.at("event"), data["event"], reader.EVENT_NAME)
    raw = data["match"]
    if isinstance(raw, str):
        raw = [raw]
    paths = reader.text_list(where.at("match"), raw, PAYLOAD_PATH)
    if paths is not None and not paths:
        where.at("match").error("expected at least one payload path")
        return None, None
    if paths is None:
        return None, None
    return name, tuple(tuple(p.split(".")) for p in paths)


def check_cancel_scopes(where: Where, spec: MessageSpec) -> None:
    """Each ``match`` path must be present in the message's example event, when it has
    one: a misspelt path is absent from every event, and absent matches absent, so the
    scope would silently cancel every message of the type."""
    if spec.example is None:
        return
    timing = spec.timing
    for name, paths in timing.cancel_match.items():
        at = where.at(timing.cancel_on.index(name)).at("match")
        for i, path in enumerate(paths):
            if value_at(spec.example.event, path) is None:
                at.at(i).error(f"{'.'.join(path)!r} is not in example.event")
