"""A simulation's scenario: a population and the true effect of each simulated message,
from code or from YAML (``clarion simulate --scenario``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Truth:
    """The true effect of one message: conversion probability without it (``base``),
    what receiving it adds (``lift``), and what each A/B cell adds on top (by name)."""

    base: float
    lift: float
    holdout: float | None = None  # replaces the catalog's share for the simulation
    cells: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        extra = max(self.cells.values(), default=0.0)
        if not (0 <= self.base <= 1 and 0 <= self.base + self.lift + extra <= 1):
            raise ValueError("base and base + lift (+ a cell's lift) must be probabilities")
        if self.holdout is not None and not 0 < self.holdout < 1:
            raise ValueError("holdout must be a share between 0 and 1")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A population of ``profiles`` that triggers every message once per round."""

    messages: Mapping[str, Truth]
    profiles: int = 2000
    rounds: int = 1
    seed: int = 1


def read_scenario(data: object) -> Scenario:
    """A scenario from its YAML form; ``ValueError`` names the key at fault::

    profiles: 4000
    rounds: 2
    seed: 7
    messages:
      continue_watching: {base: 0.20, lift: 0.05, holdout: 0.2}
      signup_dropoff: {base: 0.30, lift: 0.03, cells: {benefit_first: 0.04}}
    """
    if not isinstance(data, Mapping):
        raise ValueError("scenario: expected a mapping")
    unknown = sorted(set(data) - {"profiles", "rounds", "seed", "messages"})
    if unknown:
        raise ValueError(f"scenario: unknown keys {unknown}")
    messages = data.get("messages")
    if not isinstance(messages, Mapping) or not messages:
        raise ValueError("messages: expected a mapping of message name -> {base, lift}")
    truths = {str(name): _truth(f"messages.{name}", value) for name, value in messages.items()}
    numbers = {}
    for key, default in (("profiles", 2000), ("rounds", 1), ("seed", 1)):
        value = data.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (0 if key == "seed" else 1)
        ):
            raise ValueError(f"{key}: expected a positive integer, got {value!r}")
        numbers[key] = value
    return Scenario(truths, numbers["profiles"], numbers["rounds"], numbers["seed"])


def _truth(where: str, value: object) -> Truth:
    if not isinstance(value, Mapping) or not {"base", "lift"} <= set(value):
        raise ValueError(f"{where}: expected {{base, lift, holdout?, cells?}}")
    unknown = sorted(set(value) - {"base", "lift", "holdout", "cells"})
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    cells = value.get("cells", {})
    if not isinstance(cells, Mapping) or not all(_number(v) for v in cells.values()):
        raise ValueError(f"{where}.cells: expected cell name -> extra lift")
    for key in ("base", "lift", "holdout"):
        if key in value and not _number(value[key]):
            raise ValueError(f"{where}.{key}: expected a number, got {value[key]!r}")
    try:
        return Truth(
            float(value["base"]),
            float(value["lift"]),
            float(value["holdout"]) if "holdout" in value else None,
            {str(k): float(v) for k, v in cells.items()},
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
