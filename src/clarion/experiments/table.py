"""The incrementality report as a plain-text table (``clarion report``, ``clarion simulate``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import cast

from clarion.experiments.report import Json

_HEADER = (
    "scope",
    "treated (dec/conv)",
    "rate",
    "held out (dec/conv)",
    "rate",
    "abs lift [95% CI]",
    "rel lift [95% CI]",
    "incremental",
    "always-valid",
    "SRM p",
    "verdict",
)


def _get(data: object, *path: str) -> object:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _pct(value: object, signed: bool = False) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def _interval(estimate: object, signed: bool = True) -> str:
    if not isinstance(estimate, Mapping):
        return "-"
    return (
        f"{_pct(estimate.get('value'), signed)} "
        f"[{_pct(estimate.get('low'), signed)}, {_pct(estimate.get('high'), signed)}]"
    )


def _counts(arm: object) -> str:
    return f"{_get(arm, 'decisions')}/{_get(arm, 'conversions')}"


def _row(scope: str, comparison: Json) -> tuple[str, ...]:
    lift = comparison.get("lift")
    incremental = _get(lift, "incremental_conversions", "value")
    srm_p = _get(comparison, "srm", "p_value")
    mismatch = _get(comparison, "srm", "mismatch") is True
    return (
        scope,
        _counts(comparison.get("treated")),
        _pct(_get(comparison, "treated", "rate")),
        _counts(comparison.get("held_out")),
        _pct(_get(comparison, "held_out", "rate")),
        _interval(_get(lift, "absolute")),
        _interval(_get(lift, "relative")),
        f"{incremental:.1f}" if isinstance(incremental, float) else "-",
        f"[{_pct(_get(lift, 'always_valid', 'low'), True)}, "
        f"{_pct(_get(lift, 'always_valid', 'high'), True)}]"
        if lift
        else "-",
        (f"{srm_p:.3g}" + (" MISMATCH" if mismatch else "")) if isinstance(srm_p, float) else "-",
        verdict(lift, mismatch),
    )


def verdict(lift: object, mismatch: bool) -> str:
    """What a row supports, in words, so that an interval straddling zero is not read
    as a result: a lift or harm only when significant (the always-valid interval, the
    one that may be read at any time, excludes zero); ``not significant yet`` when only
    the fixed-horizon interval does; nothing at all when the arms' sizes show that
    allocation went wrong."""
    if mismatch:
        return "suspect (SRM)"
    if not isinstance(lift, Mapping):
        return "-"
    if lift.get("significant") is not True:
        low, high = _get(lift, "absolute", "low"), _get(lift, "absolute", "high")
        fixed = isinstance(low, float) and isinstance(high, float) and (low > 0 or high < 0)
        return "not significant yet" if fixed else "not significant"
    value = _get(lift, "absolute", "value")
    return "lift" if isinstance(value, int | float) and value > 0 else "harm"


def _rows(message: Json) -> Iterator[tuple[str, ...]]:
    name = str(message["message"])
    yield _row(name, cast(Json, message["overall"]))
    for channel in cast(list[Json], message["channels"]):
        yield _row(f"  channel {channel['channel']}", channel)
    for week in cast(list[Json], message["weeks"]):
        yield _row(f"  week of {week['week']}", week)


def _cells(message: Json) -> Iterator[str]:
    test = message.get("experiment")
    if not isinstance(test, Mapping):
        return
    srm_p = _get(test, "srm", "p_value")
    srm_text = f"SRM p={srm_p:.3g}" if isinstance(srm_p, float) else "SRM -"
    if _get(test, "srm", "mismatch") is True:
        srm_text += " MISMATCH"
    yield f"  A/B test {test.get('id')} ({srm_text}):"
    lifts = {c["cell"]: c["lift"] for c in cast(list[Json], test["comparisons"])}
    for cell in cast(list[Json], test["cells"]):
        versus = "-" if cell["cell"] == 0 else _interval(_get(lifts.get(cell["cell"]), "absolute"))
        held = _interval(_get(cell, "versus_held_out", "absolute"))
        yield (
            f"    cell {cell['cell']} {cell['name']}: {cell['decisions']} decisions, "
            f"rate {_pct(cell['rate'])}; vs control (abs) {versus}; vs held out (abs) {held}"
        )


def render_table(report: Json) -> str:
    """The report as aligned text: one block per message."""
    messages = cast(list[Json], report["messages"])
    if not messages:
        return "no measured decisions (messages need a goal, and a holdout or an A/B test)"
    rows = [_HEADER] + [row for m in messages for row in _rows(m)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    for message in messages:
        lines.extend(_cells(message))
    return "\n".join(line.rstrip() for line in lines)


def render_truth(truth: Mapping[str, Json], report: Json) -> str:
    """Each simulated message's true lifts beside the estimates, and whether the 95%
    intervals cover them: overall (sent against held out) and per A/B cell (against
    the control cell)."""
    lines = ["truth vs estimate:"]
    found = {str(m["message"]): m for m in cast(list[Json], report["messages"])}
    for name, expected in truth.items():
        message = found.get(name)
        lift = _get(message, "overall", "lift")
        true_lift = cast(float, expected["absolute_lift"])
        if lift is None:
            lines.append(
                f"  {name}: true absolute lift {_pct(true_lift, True)}; "
                "not estimated (no held-out decisions to compare with)"
            )
        else:
            lines.append(f"  {name}: {_versus(true_lift, _get(lift, 'absolute'))}")
        comparisons = _get(message, "experiment", "comparisons")
        by_name = {c["name"]: c for c in cast(list[Json], comparisons or [])}
        for cell, cell_truth in cast(Mapping[str, float], expected.get("cells", {})).items():
            if cell in by_name:
                estimate = _get(by_name[cell], "lift", "absolute")
                lines.append(f"    cell {cell} vs control: {_versus(cell_truth, estimate)}")
    return "\n".join(lines)


def _versus(true_lift: float, estimate: object) -> str:
    low, high = _get(estimate, "low"), _get(estimate, "high")
    covered = isinstance(low, float) and isinstance(high, float) and low <= true_lift <= high
    return (
        f"true absolute lift {_pct(true_lift, True)}; estimate {_interval(estimate)}; "
        f"{'covered' if covered else 'NOT covered'} by the 95% interval"
    )
