"""The C allocator's arena cap (issue 11, item 7): set on glibc, an operator's own
``MALLOC_ARENA_MAX`` left alone."""

from __future__ import annotations

import platform

import pytest

from clarion.runtime.allocator import cap_malloc_arenas

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


@glibc
def test_the_cap_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_malloc_arenas() is True


def test_an_operator_s_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() is False
