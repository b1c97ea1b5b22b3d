"""A message's ``escalation:`` ladder: which channel steps, in which order, with what timeout.

```yaml
escalation:
  - {channel: push, timeout: 10m}  # confirmed delivered within 10 minutes, or go on
  - {channel: sms, timeout: 30m}
  - {channel: voice}               # the last step: nothing to escalate to
```

Each rung names a channel of the message's ``channels:`` list, whose content it sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from clarion.catalog import reader
from clarion.catalog.reader import Where
from clarion.core.model import Channel
from clarion.core.spec import ChannelStep, Rung

_RUNG_KEYS: Final = ("channel", "timeout")


def read_escalation(
    where: Where, value: object, channels: Sequence[ChannelStep]
) -> tuple[Rung, ...] | None:
    """The ladder at ``where``, checked against the message's channel steps."""
    if not isinstance(value, list) or len(value) < 2:
        where.error("expected a list of two or more rungs: [{channel: sms, timeout: 30m}, ...]")
        return None
    before = len(where.issues)
    rungs: list[Rung] = []
    seen: set[int] = set()
    last = len(value) - 1
    for number, item in enumerate(value):
        rung = _rung(where.at(number), item, channels, last=number == last)
        if rung is None:
            continue
        if rung.step in seen:
            where.at(number).at("channel").error("this channel is already a rung of the ladder")
            continue
        seen.add(rung.step)
        rungs.append(rung)
    return tuple(rungs) if len(where.issues) == before else None


def _rung(
    where: Where, value: object, channels: Sequence[ChannelStep], *, last: bool
) -> Rung | None:
    data = reader.mapping(where, value, _RUNG_KEYS, required=("channel",))
    if data is None or "channel" not in data:
        return None
    step = _step_of(where.at("channel"), data["channel"], channels)
    timeout = None
    if "timeout" in data:
        if last:
            where.at("timeout").error("the last rung has nothing to escalate to: remove timeout")
            return None
        timeout = reader.duration(where.at("timeout"), data["timeout"])
    elif not last:
        where.at("timeout").error(
            "missing required key: how long to wait for delivery before the next rung (e.g. 10m)"
        )
        return None
    if step is None or (timeout is None and not last):
        return None
    return Rung(step.index, timeout)


def _step_of(where: Where, value: object, channels: Sequence[ChannelStep]) -> ChannelStep | None:
    channel = reader.choice(where, value, Channel)
    if channel is None:
        return None
    found = [s for s in channels if s.channel is channel]
    if not found:
        where.error(f"the message has no {channel.value} step in channels (add its content there)")
        return None
    if len(found) > 1:
        where.error(f"channels has {len(found)} {channel.value} steps; a rung needs exactly one")
        return None
    return found[0]
