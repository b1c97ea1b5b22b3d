"""The value readers (durations, clock times, windows, caps) and the YAML dialect."""

from datetime import time, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from clarion.catalog.issues import CatalogIssue
from clarion.catalog.messages import read_message_file
from clarion.catalog.policy import read_policy
from clarion.catalog.reader import Where, caps, clock, duration, local_window
from clarion.catalog.yamlio import load_yaml
from clarion.core.spec import Cap, LocalWindow


def where() -> Where:
    return Where("messages/m.yaml", "timing", [])


def test_durations() -> None:
    w = where()
    assert duration(w, "90s") == timedelta(seconds=90)
    assert duration(w, "15m") == timedelta(minutes=15)
    assert duration(w, "24h") == timedelta(hours=24)
    assert duration(w, "7d") == timedelta(days=7)
    assert duration(w, "2w") == timedelta(weeks=2)
    assert duration(w, "1h30m") == timedelta(minutes=90)
    assert duration(w, "1d12h") == timedelta(hours=36)
    assert duration(w, "0s", allow_zero=True) == timedelta(0)
    assert w.issues == []


def test_bad_durations_are_reported() -> None:
    for bad in ("24 hours", "", "90", "1m1h", "h", 5, None, "0s"):
        w = where()
        assert duration(w, bad) is None
        assert len(w.issues) == 1 and w.issues[0].key == "timing"


def test_clock_and_windows() -> None:
    w = where()
    assert clock(w, "09:00") == time(9)
    assert clock(w, "9:05") == time(9, 5)
    assert local_window(w, {"start": "22:00", "end": "08:00"}) == LocalWindow(time(22), time(8))
    weekdays = local_window(w, {"start": "09:00", "end": "21:00", "days": ["mon", "Fri"]})
    assert weekdays is not None and weekdays.days == frozenset({1, 5})
    assert w.issues == []
    assert clock(w, "24:00") is None and clock(w, 1320) is None
    assert local_window(w, {"start": "09:00"}) is None
    assert w.issues[-1] == CatalogIssue("messages/m.yaml", "timing.end", "missing required key")


def test_caps_get_default_names() -> None:
    w = where()
    found = caps(w, [{"limit": 1, "window": "7d"}, {"limit": 2, "window": "1d", "name": "x"}], "m")
    assert found == (Cap("m:1/7d", 1, timedelta(days=7)), Cap("x", 2, timedelta(days=1)))
    assert caps(w, [{"limit": True, "window": "1d"}], "m") is None
    assert [i.key for i in w.issues] == ["timing[0].limit"]


def test_yaml_dialect_keeps_times_and_words_as_text(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 22:00\nb: no\nc: 2024-05-01\nd: 10\ne: 1.5\nf: true\ng: ~\n")
    assert load_yaml(path) == {
        "a": "22:00",
        "b": "no",
        "c": "2024-05-01",
        "d": 10,
        "e": 1.5,
        "f": True,
        "g": None,
    }


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
VALID = {
    "name": "m",
    "id": 1,
    "category": "account",
    "trigger": {"event": "x.y", "condition": {"a": {"gt": 1}}},
    "segment": {"attributes.plan": "basic"},
    "channels": [{"channel": "push", "content": {"title": "k.t"}}],
    "timing": {"delay": "1h", "window": {"start": "09:00", "end": "21:00"}},
    "caps": [{"limit": 1, "window": "1d"}],
    "dedup": {"key": "show_id", "window": "30d"},
    "goal": {"event": "x.z", "within": "7d"},
}


@given(st.sampled_from(sorted(VALID)), json_like)
def test_any_value_anywhere_gives_a_spec_or_issues(key: str, value: object) -> None:
    w = Where("messages/m.yaml", "", [])
    message = read_message_file(w, {**VALID, key: value}, "m")
    assert (message.spec is None) == bool(w.issues)
    assert all(i.file == "messages/m.yaml" for i in w.issues)


@given(json_like)
def test_any_document_gives_a_spec_or_issues(value: object) -> None:
    w = Where("messages/m.yaml", "", [])
    assert (read_message_file(w, value, "m").spec is None) == bool(w.issues)
    at_policy = Where("clarion.yaml", "", [])
    assert (read_policy(at_policy, value) is None) == bool(at_policy.issues)


def test_valid_message_reads() -> None:
    w = Where("messages/m.yaml", "", [])
    assert read_message_file(w, VALID, "m").spec is not None and w.issues == []
