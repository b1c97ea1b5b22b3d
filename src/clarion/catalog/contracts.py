"""A channel step's content fields and options checked against its channel's contract
(``clarion.core.contracts``), each problem at its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clarion.catalog import reader
from clarion.catalog.reader import Where
from clarion.core.contracts import CONTRACTS, ChannelOptions, NoOptions
from clarion.core.model import Channel


def check_content(where: Where, channel: Channel, content: Mapping[str, str]) -> None:
    """Record every content field the channel does not take, and every one it needs
    that ``content`` (at ``where``) leaves out."""
    contract = CONTRACTS[channel]
    if contract.fields is None:
        return
    allowed = ", ".join(contract.fields)
    for name in content:
        if name not in contract.fields:
            where.at(name).error(f"unknown {channel} content field (allowed: {allowed})")
    for name in contract.required:
        if name not in content:
            where.at(name).error(f"missing required {channel} field")
    if contract.one_of and not any(name in content for name in contract.one_of):
        where.error(f"a {channel} step needs {' or '.join(contract.one_of)}")


def read_options(where: Where, channel: Channel, value: object) -> ChannelOptions | None:
    """The step's options (``value``, at ``where``) as its channel's options type, or
    ``None`` after recording each unknown option and each value that fails its check.
    Channels whose options are read elsewhere (in-app) get ``NoOptions`` here."""
    contract = CONTRACTS[channel]
    if contract.options is None:
        return NoOptions()
    checks = contract.option_checks()
    data = reader.mapping(where, value, _keys(value))
    if data is None:
        return None
    known = f"allowed: {', '.join(checks)}" if checks else "the channel takes none"
    good: dict[str, Any] = {}
    for name, option in data.items():
        check = checks.get(name)
        problem = f"unknown {channel} option ({known})" if check is None else check(option)
        if problem is None:
            good[name] = option
        else:
            where.at(name).error(problem)
    return contract.options(**good) if len(good) == len(data) else None


def _keys(value: object) -> tuple[str, ...]:
    # Every string key passes ``reader.mapping``: unknown options are reported here,
    # with the channel's own options listed.
    return tuple(k for k in value if isinstance(k, str)) if isinstance(value, Mapping) else ()
