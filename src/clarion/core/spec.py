"""The catalog schema: what a message definition declares, as frozen values.

The loader in ``clarion.catalog`` turns reviewed YAML files into these values;
``decide()`` reads nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum

from clarion.core.contracts import ChannelOptions, NoOptions
from clarion.core.experiment import Experiment
from clarion.core.inapp_spec import InAppSpec
from clarion.core.model import Channel, JSONObject
from clarion.core.predicate import Predicate

#: The category whose messages are transactional (bypass fatigue caps, never held out).
TRANSACTIONAL_CATEGORY = "account"


class Audience(StrEnum):
    """Who receives a message triggered by an event."""

    PROFILE = "profile"  # the event's own profile
    ACCOUNT = "account"  # every profile of the event's account


class ChannelMode(StrEnum):
    """How a message uses its channel list (given in priority order)."""

    FIRST = "first"  # the first eligible channel only
    ALL = "all"  # every eligible channel


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """A daily span of local wall-clock time, possibly across midnight.

    ``start == end`` means the whole day. ``days`` are ISO weekdays (1 = Monday)
    on which the span *starts*.
    """

    start: time
    end: time
    days: frozenset[int] = frozenset(range(1, 8))


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` messages in any rolling ``window``; ``name`` appears in reasons."""

    name: str
    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Timing:
    """When a message may go out, relative to its triggering event."""

    delay: timedelta = timedelta(0)
    window: LocalWindow | None = None
    #: ``None`` means "the catalog's default quiet hours" (not for transactional messages).
    quiet_hours: LocalWindow | None = None
    ignore_quiet_hours: bool = False
    expires_after: timedelta | None = None
    cancel_on: tuple[str, ...] = ()
    #: Scoped cancel-on events: event type -> payload paths whose values must equal the
    #: triggering event's (``play.started`` of the same ``show_id``). Also scopes the
    #: goal's cancellation when the goal event is listed here.
    cancel_match: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dedup:
    """Suppress a message whose key was already used by the same message recently."""

    key: tuple[str, ...]  # a path into the event payload
    window: timedelta


@dataclass(frozen=True, slots=True)
class Goal:
    """The event a message exists to cause; it also cancels the message while pending."""

    event: str
    within: timedelta


@dataclass(frozen=True, slots=True)
class Example:
    """Sample data a message renders with in previews, screenshots and tests: an event
    payload and what templates see of the profile (``attributes``, ``country``, ...)."""

    event: JSONObject
    profile: JSONObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelStep:
    """One channel of a message, with the string keys of its content fields."""

    index: int
    channel: Channel
    content: Mapping[str, str]  # field -> localized string key
    platforms: frozenset[str] = frozenset()  # eligible device platforms; empty = any
    provider: str | None = None  # None: the channel's route from the configuration
    fallbacks: tuple[str, ...] = ()  # providers after ``provider`` (failover)
    #: Its channel's options, typed and checked (``clarion.core.contracts``).
    options: ChannelOptions = field(default_factory=NoOptions)
    #: An in-app step's options, typed and validated (``None`` on other channels).
    inapp: InAppSpec | None = None


@dataclass(frozen=True, slots=True)
class Rung:
    """One step of an escalation ladder: a channel step of the message, and how long
    it has to be confirmed delivered before the ladder moves on (``None``: the last)."""

    step: int  # index into ``MessageSpec.channels``
    timeout: timedelta | None = None


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One message definition of the catalog."""

    name: str
    id: int
    category: str
    trigger: str
    channels: tuple[ChannelStep, ...]
    condition: Predicate | None = None
    #: The condition as declared (compiled into ``condition``), to explain a miss.
    condition_data: JSONObject | None = None
    audience: Audience = Audience.PROFILE
    segment: Predicate | None = None
    channel_mode: ChannelMode = ChannelMode.ALL
    timing: Timing = Timing()
    caps: tuple[Cap, ...] = ()
    dedup: Dedup | None = None
    goal: Goal | None = None
    example: Example | None = None
    #: An escalation ladder across channel steps (push -> SMS -> voice); empty: none.
    escalation: tuple[Rung, ...] = ()
    source: str = ""
    #: The share of eligible decisions held out (recorded, never sent); 0 for none.
    holdout: float = 0.0
    #: An A/B/n test of this message, and the message as each of its cells sees it
    #: (``variants[i]`` is cell ``i``: the definition with that cell's overrides).
    experiment: Experiment | None = None
    variants: tuple[MessageSpec, ...] = ()
    #: Derived: the category is transactional (bypasses caps and quiet hours).
    transactional: bool = field(init=False)
    #: Derived: events that cancel this message while pending (cancel-on, then the goal).
    cancel_events: tuple[str, ...] = field(init=False)
    #: Derived: channel step index -> its rung number in the escalation ladder.
    rungs: Mapping[int, int] = field(init=False)
    #: Derived: the steps in the order decide() considers them: steps outside the
    #: ladder in channel order, then the ladder's in rung order.
    order: tuple[ChannelStep, ...] = field(init=False)

    def __post_init__(self) -> None:
        goal = (self.goal.event,) if self.goal else ()
        object.__setattr__(self, "transactional", self.category == TRANSACTIONAL_CATEGORY)
        object.__setattr__(
            self, "cancel_events", tuple(dict.fromkeys(self.timing.cancel_on + goal))
        )
        rungs = {rung.step: number for number, rung in enumerate(self.escalation)}
        object.__setattr__(self, "rungs", rungs)
        by_index = {step.index: step for step in self.channels}
        order = [s for s in self.channels if s.index not in rungs]
        order += [by_index[r.step] for r in self.escalation if r.step in by_index]
        object.__setattr__(self, "order", tuple(order))

    def for_cell(self, cell: int | None) -> MessageSpec:
        """The definition as experiment cell ``cell`` sees it (itself outside a test, or
        when the cell no longer exists after a catalog change)."""
        if cell is None or not 0 <= cell < len(self.variants):
            return self
        return self.variants[cell]


@dataclass(frozen=True, slots=True)
class Policy:
    """Catalog-wide rules: default locale, quiet hours, channel and global caps."""

    default_locale: str = "en"
    quiet_hours: LocalWindow | None = None
    channel_caps: Mapping[Channel, tuple[Cap, ...]] = field(default_factory=dict)
    global_caps: tuple[Cap, ...] = ()
    #: The holdout of messages that measure a goal and declare none (never transactional).
    holdout: float = 0.0


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """All message definitions, indexed for ``decide()``."""

    messages: Mapping[str, MessageSpec]
    policy: Policy = Policy()
    by_trigger: Mapping[str, tuple[MessageSpec, ...]] = field(init=False)
    history_window: timedelta = field(init=False)
    #: Derived: the goal events of measured messages (a holdout or an A/B test), which
    #: convert their exposures when they arrive.
    goal_events: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        index: dict[str, list[MessageSpec]] = {}
        for spec in sorted(self.messages.values(), key=lambda m: m.id):
            index.setdefault(spec.trigger, []).append(spec)
        object.__setattr__(self, "by_trigger", {k: tuple(v) for k, v in index.items()})
        windows = [c.window for c in self.policy.global_caps]
        windows += [c.window for caps in self.policy.channel_caps.values() for c in caps]
        for spec in self.messages.values():
            windows += [c.window for c in spec.caps]
            windows += [spec.dedup.window] if spec.dedup else []
        object.__setattr__(self, "history_window", max(windows, default=timedelta(days=1)))
        measured = (m for m in self.messages.values() if m.holdout or m.experiment is not None)
        object.__setattr__(self, "goal_events", frozenset(m.goal.event for m in measured if m.goal))
