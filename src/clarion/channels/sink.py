"""A provider that appends each message to a JSON-lines file: for tests, benchmarks and demos."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import orjson

from clarion.channels.base import Outgoing, Receipt, TransientError
from clarion.channels.wire import dumps, message_record
from clarion.core.model import Channel


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SinkProvider:
    """Delivers by appending one JSON line per message to ``path``.

    Each line goes to an ``O_APPEND`` descriptor in a single ``write`` call, so once
    ``send`` returns the line is in the kernel and survives a SIGKILL of this process,
    and lines from concurrent tasks (or threads) never interleave. It does not
    ``fsync``: surviving a power cut is not a sink's job. Not idempotent: a repeated
    send appends a second line (what the crash tests count).
    """

    idempotent = False
    channels = frozenset(Channel)  # a file takes any message

    def __init__(
        self, path: Path, name: str = "sink", *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.name = name
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def send(self, message: Outgoing) -> Receipt:
        """Append the message; acceptance is delivery."""
        if self._fd is None:
            # Writing to a closed descriptor number could hit a file opened since.
            raise RuntimeError(f"sink {self.name!r} is closed")
        record = message_record(message)
        record["sent_at"] = self._clock()
        line = dumps(record) + b"\n"
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # only on a full disk or a signal; finish the line
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            raise TransientError("io_error", str(exc)) from exc
        return Receipt(provider=self.name, ref=message.guid, delivered=True)

    async def aclose(self) -> None:
        """Close the file; later sends raise ``RuntimeError``."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def read_sink(path: Path) -> list[dict[str, object]]:
    """Every message a sink wrote to ``path``, in order."""
    return [
        cast(dict[str, object], orjson.loads(line))
        for line in path.read_bytes().splitlines()
        if line
    ]
