"""An in-app step's ``options`` (and ``platforms``) into an ``InAppSpec``.

Everything the UI will receive is checked here, at load, rather than at fetch:
every content field has one place in the alert, CTAs name real fields, at most
one is selected, a follow-up interrupts less than its alert and shows on the
step's own platforms, version ranges parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from clarion.catalog import reader
from clarion.catalog.reader import Read, Shape, T, Where
from clarion.core.inapp_spec import (
    ALL_PLATFORMS,
    INTERRUPTION,
    ActionType,
    Cta,
    CtaType,
    DismissRule,
    DismissScope,
    Fallback,
    FollowUp,
    InAppSpec,
    Platform,
    Template,
)
from clarion.core.versions import VersionRange, VersionRangeError

OPTION_KEYS: Final = (
    "template",
    "fields",
    "ctas",
    "app_versions",
    "blocked_pages",
    "ttl",
    "dismiss",
    "follow_up",
    "fallback",
)
#: The elements of an alert that hold copy besides its CTAs.
SLOTS: Final = ("title", "body", "footer", "image")
_CTA_KEYS: Final = ("field", "action_type", "action", "cta_type", "selected")
_FOLLOW_UP_KEYS: Final = ("after_impressions", "template", "platforms", "fields")
ACTION: Final = Shape(re.compile(r"\S{1,200}"), "an action name without spaces: UPDATE_PAYMENT")
PAGE: Final = Shape(re.compile(r"/\S*"), "a path starting with '/': /account/payment")
STRING_KEY: Final = Shape(
    re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"),
    "a dotted string key such as add_phone.banner.body",
)


@dataclass(frozen=True, slots=True)
class _Step:
    """The parts of a step that its options are checked against."""

    step: Where
    content: Mapping[str, str]
    platforms: frozenset[Platform]

    @property
    def options(self) -> Where:
        return self.step.at("options")

    def field(self, where: Where, value: object) -> str | None:
        """A content field of this step."""
        name = reader.text(where, value)
        if name is not None and name not in self.content:
            where.error(f"{name!r} is not a content field of this step")
            return None
        return name


def read_inapp(
    where: Where, step: Mapping[str, object], content: Mapping[str, str]
) -> InAppSpec | None:
    """The in-app spec of a step (``where`` is the step), or ``None`` after recording issues.

    Shapes the step reader already reports (options not a mapping, platforms not
    a list of text) give ``None`` silently, so no problem is reported twice.
    """
    before = len(where.issues)
    platforms = _platforms(where.at("platforms"), step.get("platforms"))
    raw = step.get("options", {})
    if platforms is None or not isinstance(raw, Mapping):
        return None
    at = _Step(where, content, platforms)
    data = reader.mapping(at.options, raw, OPTION_KEYS) or {}
    template = reader.choice(at.options.at("template"), data.get("template", "standard"), Template)
    slots = _slots(at, data.get("fields", {}))
    ctas = _ctas(at, data.get("ctas", []))
    versions = _opt(at, data, "app_versions", lambda w, v: _app_versions(at, w, v))
    pages = _opt(at, data, "blocked_pages", lambda w, v: reader.text_list(w, v, PAGE))
    ttl = _opt(at, data, "ttl", reader.duration)
    dismiss = _opt(at, data, "dismiss", _dismiss)
    follow_up = _opt(at, data, "follow_up", lambda w, v: _follow_up(at, w, v))
    fallback = _opt(at, data, "fallback", lambda w, v: _fallback(at, w, v))
    if slots is not None and ctas is not None:
        _check_uses(at, slots, ctas)
    if ctas is not None:  # else rules about CTAs would only echo the CTA's own problem
        _check_rules(at, template, ctas, dismiss, follow_up)
        if fallback is not None and not any(c.action_type is ActionType.BACKEND for c in ctas):
            at.options.at("fallback").error("a fallback needs a CTA with action_type BACKEND")
    if len(where.issues) > before:
        return None
    assert template is not None and slots is not None and ctas is not None
    return InAppSpec(
        template=template,
        body=slots["body"] or "body",
        title=slots["title"],
        footer=slots["footer"],
        image=slots["image"],
        ctas=ctas,
        platforms=platforms,
        app_versions=versions or {},
        blocked_pages=pages or (),
        ttl=ttl,
        dismiss=dismiss,
        follow_up=follow_up,
        fallback=fallback,
    )


def follow_up_references(index: int, step: object) -> Iterator[tuple[str, str]]:
    """(key path, string key) of the copy a step's follow-up or fallback shows instead
    of its own."""
    options = step.get("options") if isinstance(step, Mapping) else None
    for option in ("follow_up", "fallback"):
        rule = options.get(option) if isinstance(options, Mapping) else None
        fields = rule.get("fields") if isinstance(rule, Mapping) else None
        for name, key in fields.items() if isinstance(fields, Mapping) else ():
            # Malformed keys are reported by the option's reader; looking them up adds nothing.
            if isinstance(key, str) and STRING_KEY.regex.fullmatch(key):
                yield f"channels[{index}].options.{option}.fields.{name}", key


def _opt(at: _Step, data: Mapping[str, object], key: str, read: Read[T]) -> T | None:
    return read(at.options.at(key), data[key]) if key in data else None


def _platforms(where: Where, value: object) -> frozenset[Platform] | None:
    """The step's platforms; absent or empty means every platform."""
    if value is None:
        return ALL_PLATFORMS
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None  # reported by the step reader
    return _platform_set(where, value) if value else ALL_PLATFORMS


def _platform_set(where: Where, names: list[str] | tuple[str, ...]) -> frozenset[Platform] | None:
    found = [reader.choice(where.at(i), name, Platform) for i, name in enumerate(names)]
    return frozenset(p for p in found if p is not None) if None not in found else None


def _slots(at: _Step, value: object) -> dict[str, str | None] | None:
    """Which content field fills each slot: as named, or the field of the slot's name."""
    where = at.options.at("fields")
    data = reader.mapping(where, value, SLOTS)
    if data is None:
        return None
    slots: dict[str, str | None] = {}
    for slot in SLOTS:
        if slot in data:
            slots[slot] = at.field(where.at(slot), data[slot])
        else:
            slots[slot] = slot if slot in at.content else None
    if "body" not in data and slots["body"] is None:
        at.step.at("content").error(
            "an in-app alert needs a body field (or name one in options.fields.body)"
        )
    return slots


def _ctas(at: _Step, value: object) -> tuple[Cta, ...] | None:
    where = at.options.at("ctas")
    if not isinstance(value, list):
        where.error("expected a list of CTAs")
        return None
    ctas = [_cta(at, where.at(i), item) for i, item in enumerate(value)]
    selected = [i for i, cta in enumerate(ctas) if cta is not None and cta.selected]
    for i in selected[1:]:
        where.at(i).at("selected").error(f"only one CTA may be selected (ctas[{selected[0]}] is)")
    if None in ctas or len(selected) > 1:
        return None
    return tuple(c for c in ctas if c is not None)


def _cta(at: _Step, where: Where, value: object) -> Cta | None:
    required = ("field", "action_type", "action")
    data = reader.mapping(where, value, _CTA_KEYS, required=required)
    if data is None or any(key not in data for key in required):
        return None
    field = at.field(where.at("field"), data["field"])
    action_type = reader.choice(where.at("action_type"), data["action_type"], ActionType)
    action = reader.text(where.at("action"), data["action"], ACTION)
    cta_type = reader.choice(where.at("cta_type"), data.get("cta_type", "BUTTON"), CtaType)
    selected = data.get("selected", False)
    if not isinstance(selected, bool):
        where.at("selected").error(f"expected true or false, got {selected!r}")
        return None
    if field is None or action_type is None or action is None or cta_type is None:
        return None
    return Cta(field, action_type, action, cta_type, selected)


def _app_versions(at: _Step, where: Where, value: object) -> dict[Platform, VersionRange] | None:
    data = reader.mapping(where, value, [p.value for p in Platform])
    if data is None:
        return None
    ranges: dict[Platform, VersionRange] = {}
    for name, text in data.items():
        platform = Platform(name)
        if platform not in at.platforms:
            where.at(name).error(f"{name} is not one of this step's platforms")
            continue
        spelled = reader.text(where.at(name), text)
        if spelled is None:
            continue
        try:
            ranges[platform] = VersionRange.parse(spelled)
        except VersionRangeError as exc:
            where.at(name).error(f"invalid version range: {exc}")
    return ranges if len(ranges) == len(data) else None


def _dismiss(where: Where, value: object) -> DismissRule | None:
    data = reader.mapping(where, value, ("suppress_for", "scope"), required=("suppress_for",))
    if data is None or "suppress_for" not in data:
        return None
    span = reader.duration(where.at("suppress_for"), data["suppress_for"])
    scope = reader.choice(where.at("scope"), data.get("scope", "message"), DismissScope)
    return DismissRule(span, scope) if span is not None and scope is not None else None


def _follow_up(at: _Step, where: Where, value: object) -> FollowUp | None:
    required = ("after_impressions", "template")
    data = reader.mapping(where, value, _FOLLOW_UP_KEYS, required=required)
    if data is None or any(key not in data for key in required):
        return None
    count = reader.positive_int(where.at("after_impressions"), data["after_impressions"])
    template = reader.choice(where.at("template"), data["template"], Template)
    platforms: frozenset[Platform] | None = at.platforms
    if "platforms" in data:
        platforms = _follow_up_platforms(at, where.at("platforms"), data["platforms"])
    fields = _follow_up_fields(at, where.at("fields"), data.get("fields", {}))
    if count is None or template is None or platforms is None or fields is None:
        return None
    return FollowUp(count, template, platforms, fields)


def _fallback(at: _Step, where: Where, value: object) -> Fallback | None:
    data = reader.mapping(where, value, ("template", "fields"))
    if data is None:
        return None
    template = None
    if "template" in data:
        template = reader.choice(where.at("template"), data["template"], Template)
        if template is None:
            return None
    fields = _follow_up_fields(at, where.at("fields"), data.get("fields", {}))
    return Fallback(template, fields) if fields is not None else None


def _follow_up_platforms(at: _Step, where: Where, value: object) -> frozenset[Platform] | None:
    """Some of the step's platforms (a follow-up narrows where the alert shows)."""
    names = reader.text_list(where, value)
    if not names:
        if names is not None:
            where.error("needs at least one platform")
        return None
    platforms = _platform_set(where, names)
    if platforms is None:
        return None
    for i, name in enumerate(names):
        if name not in at.platforms:
            where.at(i).error(f"{name} is not one of this step's platforms")
    return platforms if platforms <= at.platforms else None


def _follow_up_fields(at: _Step, where: Where, value: object) -> dict[str, str] | None:
    data = reader.mapping(where, value, tuple(at.content))
    if data is None:
        return None
    fields = {name: reader.text(where.at(name), key, STRING_KEY) for name, key in data.items()}
    found = {name: key for name, key in fields.items() if key is not None}
    return found if len(found) == len(fields) else None


def _check_uses(at: _Step, slots: Mapping[str, str | None], ctas: tuple[Cta, ...]) -> None:
    """Each content field fills exactly one element of the alert."""
    uses: dict[str, str] = {}  # field -> the element it fills
    places = [(f"options.fields.{s}", f"the {s}", f) for s, f in slots.items() if f is not None]
    places += [(f"options.ctas[{i}].field", f"ctas[{i}]", c.field) for i, c in enumerate(ctas)]
    for place, element, field in places:
        if field in uses:
            at.step.at(place).error(f"{field!r} is already shown as {uses[field]}")
        uses.setdefault(field, element)
    for field in at.content:
        if field not in uses:
            at.step.at("content").at(field).error(
                "not shown by the alert: name it in options.fields (title, body, footer, image) "
                "or in a CTA"
            )


def _check_rules(
    at: _Step,
    template: Template | None,
    ctas: tuple[Cta, ...],
    dismiss: DismissRule | None,
    follow_up: FollowUp | None,
) -> None:
    if dismiss is not None and not any(c.action_type is ActionType.DISMISS for c in ctas):
        at.options.at("dismiss").error("a dismiss rule needs a CTA with action_type DISMISS")
    if follow_up is None or template is None:
        return
    if INTERRUPTION[follow_up.template] >= INTERRUPTION[template]:
        at.options.at("follow_up.template").error(
            f"a follow-up must interrupt less than its alert ({template.value}): "
            "use banner after standard, standard or banner after fullscreen"
        )
