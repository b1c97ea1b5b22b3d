"""A message's measurement keys: ``holdout`` and ``experiment`` (an A/B/n test).

``holdout: 2%`` holds back that share of eligible decisions. ``experiment`` names
a test and its cells; the first cell is the control and overrides nothing, the
others may override ``content`` (per channel: field -> string key), ``channels``
(the whole channel list: channel, in-app template, provider...), ``timing``
(keys merged over the message's) and ``caps``. See docs/experiments.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Final

from clarion.catalog import reader
from clarion.catalog.reader import Shape, Where
from clarion.core.experiment import Cell, Experiment
from clarion.core.model import Channel
from clarion.core.spec import Cap, ChannelStep, MessageSpec, Timing

CELL_NAME: Final = Shape(re.compile(r"[a-z0-9_]+"), "lowercase letters, digits and '_'")
_PERCENT: Final = re.compile(r"(\d+(?:\.\d+)?)\s*%")
#: More than half held out is no longer a holdout; it is not sending the message.
MAX_HOLDOUT: Final = 0.5
_KEYS: Final = ("id", "salt", "cells")
_OVERRIDES: Final = ("content", "channels", "timing", "caps")
_CELL_KEYS: Final = ("name", "weight", *_OVERRIDES)

ReadChannels = Callable[[Where, object], "tuple[ChannelStep, ...] | None"]
ReadTiming = Callable[[Where, object], Timing | None]
ReadContent = Callable[[Where, object], "Mapping[str, str] | None"]
ReadCaps = Callable[[Where, object], "tuple[Cap, ...] | None"]


def read_holdout(where: Where, value: object) -> float | None:
    """A share of decisions: ``"2%"``, or a fraction such as ``0.02``; ``0`` for none."""
    share: float | None = None
    if isinstance(value, str) and (match := _PERCENT.fullmatch(value.strip())):
        share = float(match[1]) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        share = float(value)
    if share is None or not 0 <= share <= MAX_HOLDOUT:
        where.error(f'invalid holdout {value!r} (use a share up to 50%, e.g. "2%", or 0)')
        return None
    return share


def check_measurement(where: Where, spec: MessageSpec, declared_holdout: bool) -> None:
    """A held-out or tested message must have a goal; account messages are never held out."""
    if spec.transactional and spec.holdout > 0:
        where.at("holdout").error(
            f"category {spec.category!r} is transactional: never held out (only 'holdout: 0')"
        )
    if spec.goal is None and (spec.experiment is not None or (declared_holdout and spec.holdout)):
        where.at("goal").error("missing: a held-out or tested message needs a goal to measure")


def with_default_holdout(spec: MessageSpec, default: float, declared: bool) -> MessageSpec:
    """``spec`` with the catalog's default holdout when it declares none, measures a
    goal and is not transactional; its cells get the same share."""
    if declared or spec.transactional or spec.goal is None or not default:
        return spec
    variants = tuple(replace(v, holdout=default) for v in spec.variants)
    return replace(spec, holdout=default, variants=variants)


@dataclass(frozen=True, slots=True)
class CellReaders:
    """The message readers a cell's overrides reuse (``clarion.catalog.messages``, ``.steps``)."""

    channels: ReadChannels
    timing: ReadTiming
    content: ReadContent
    caps: ReadCaps


def read_experiment(
    where: Where, value: object, base: MessageSpec, raw_timing: object, read: CellReaders
) -> MessageSpec | None:
    """``base`` with its experiment and one variant per cell, or ``None`` after
    recording every problem at ``where``."""
    before = len(where.issues)
    data = reader.mapping(where, value, _KEYS, required=("id", "cells"))
    if data is None:
        return None
    test_id = reader.positive_int(where.at("id"), data["id"]) if "id" in data else None
    salt = reader.text(where.at("salt"), data["salt"]) if "salt" in data else ""
    cells_at = where.at("cells")
    raw_cells = data.get("cells")
    if "cells" in data and (not isinstance(raw_cells, list) or len(raw_cells) < 2):
        cells_at.error("expected a list of at least two cells (the first is the control)")
        raw_cells = None
    made = [
        _cell(cells_at.at(i), item, i, base, raw_timing, read)
        for i, item in enumerate(raw_cells if isinstance(raw_cells, list) else ())
    ]
    _unique_names(cells_at, [c for c, _ in made if c is not None])
    if len(where.issues) > before or test_id is None or salt is None:
        return None
    cells = tuple(c for c, _ in made if c is not None)
    variants = tuple(v for _, v in made if v is not None)
    return replace(base, experiment=Experiment(test_id, salt, cells), variants=variants)


def _unique_names(where: Where, cells: list[Cell]) -> None:
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        if cell.name in seen:
            where.at(index).at("name").error(f"cell name {cell.name!r} is used twice")
        seen.add(cell.name)


def _cell(
    where: Where,
    value: object,
    index: int,
    base: MessageSpec,
    raw_timing: object,
    read: CellReaders,
) -> tuple[Cell | None, MessageSpec | None]:
    before = len(where.issues)
    data = reader.mapping(where, value, _CELL_KEYS, required=("name", "weight"))
    if data is None:
        return None, None
    name = reader.text(where.at("name"), data["name"], CELL_NAME) if "name" in data else None
    weight = _weight(where.at("weight"), data["weight"]) if "weight" in data else None
    overrides = tuple(k for k in _OVERRIDES if k in data)
    if index == 0 and overrides:
        where.error(f"the first cell is the control: it overrides nothing (found {overrides})")
    variant = _variant(where, data, base, raw_timing, read)
    if len(where.issues) > before or name is None or weight is None or variant is None:
        return None, None
    return Cell(name, weight, overrides), variant


def _weight(where: Where, value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        where.error(f"expected a positive number, got {value!r}")
        return None
    return float(value)


def _variant(
    where: Where,
    data: Mapping[str, object],
    base: MessageSpec,
    raw_timing: object,
    read: CellReaders,
) -> MessageSpec | None:
    """The message as the cell sees it: ``base`` with the cell's overrides."""
    channels: tuple[ChannelStep, ...] | None = base.channels
    if "channels" in data and base.escalation:
        # The ladder names channel steps by position: other steps would break it.
        where.at("channels").error(
            "a message with an escalation ladder has the same channels in every cell "
            "(override their content instead)"
        )
        return None
    if "channels" in data:
        channels = read.channels(where.at("channels"), data["channels"])
    if "content" in data and channels is not None:
        channels = _content(where.at("content"), data["content"], channels, read)
    timing: Timing | None = base.timing
    if "timing" in data:
        timing = _timing(where.at("timing"), data["timing"], raw_timing, read)
    caps = base.caps
    if "caps" in data:
        caps = read.caps(where.at("caps"), data["caps"]) or ()
    if channels is None or timing is None:
        return None
    spec = replace(base, channels=channels, timing=timing, caps=caps)
    return replace(spec, experiment=None, variants=())


def _content(
    where: Where, value: object, steps: tuple[ChannelStep, ...], read: CellReaders
) -> tuple[ChannelStep, ...] | None:
    """Copy overrides per channel: ``{email: {subject: key}}`` applies to email steps."""
    data = reader.mapping(where, value, tuple(c.value for c in Channel))
    if data is None:
        return None
    out = list(steps)
    for channel_name, fields in data.items():
        at = where.at(channel_name)
        content = read.content(at, fields)
        matching = [i for i, step in enumerate(steps) if step.channel.value == channel_name]
        if not matching:
            at.error(f"the message has no {channel_name} channel to override")
            continue
        for i in matching:
            unknown = sorted(set(content or {}) - set(steps[i].content))
            if unknown:
                at.error(f"fields {unknown} are not among the channel's {sorted(steps[i].content)}")
            elif content:
                out[i] = replace(steps[i], content={**steps[i].content, **content})
    return tuple(out)


def _timing(where: Where, value: object, raw_timing: object, read: CellReaders) -> Timing | None:
    """The message's timing keys with the cell's on top, read as one timing."""
    if not isinstance(value, Mapping):
        where.error("expected a mapping of timing keys")
        return None
    merged = {**(raw_timing if isinstance(raw_timing, Mapping) else {}), **value}
    return read.timing(where, merged)


def experiment_references(
    value: object,
    step_references: Callable[[object], tuple[tuple[str, str], ...]],
    is_key: Callable[[str], object],
) -> Iterator[tuple[str, str]]:
    """(key path, string key) of the copy the cells use, to check it exists."""
    data = value if isinstance(value, Mapping) else {}
    cells = data.get("cells")
    for index, cell in enumerate(cells if isinstance(cells, list) else ()):
        if not isinstance(cell, Mapping):
            continue
        at = f"experiment.cells[{index}]"
        for path, key in step_references(cell.get("channels")):
            yield f"{at}.{path}", key
        content = cell.get("content")
        for channel, fields in content.items() if isinstance(content, Mapping) else ():
            for field, key in fields.items() if isinstance(fields, Mapping) else ():
                # Malformed keys are reported by the content reader.
                if isinstance(key, str) and is_key(key):
                    yield f"{at}.content.{channel}.{field}", key
