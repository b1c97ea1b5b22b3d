"""What an in-app step declares: template, copy fields, CTAs, eligibility, feedback rules.

The catalog loader builds an ``InAppSpec`` from an in-app step's ``options`` (and
its ``platforms``); the fetch path validates devices and pages against it and
assembles the payload of DESIGN.md section 5 from it (``clarion.core.payload``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from clarion.core.versions import VersionRange


class Template(StrEnum):
    """How a UI platform draws an alert; colours and fonts are the platform's own."""

    STANDARD = "standard"  # a modal over the current screen
    BANNER = "banner"  # a strip that does not block the screen
    FULLSCREEN = "fullscreen"  # an interstitial that takes the whole screen
    NOTIFICATION = "notification"  # an item of the notification center, not an alert


#: How much each template interrupts; a follow-up must interrupt less than its alert.
INTERRUPTION: Final[Mapping[Template, int]] = {
    Template.FULLSCREEN: 3,
    Template.STANDARD: 2,
    Template.BANNER: 1,
    Template.NOTIFICATION: 0,
}


class ActionType(StrEnum):
    """What a click on a CTA does, as a category the UI understands."""

    REDIRECT = "REDIRECT"  # go to another flow of the app, named by ``action``
    DISMISS = "DISMISS"  # close the alert (a dismiss rule may suppress it)
    BACKEND = "BACKEND"  # the service calls a backend (a federated CTA)
    ACKNOWLEDGE = "ACKNOWLEDGE"  # close the alert and count it as read and understood


class CtaType(StrEnum):
    """How a CTA is drawn."""

    BUTTON = "BUTTON"
    LINK = "LINK"


class Platform(StrEnum):
    """A UI platform that fetches in-app alerts."""

    WEB = "web"
    IOS = "ios"
    ANDROID = "android"
    TV = "tv"


ALL_PLATFORMS: Final = frozenset(Platform)


class DismissScope(StrEnum):
    """What a dismiss suppresses: this alert on every device, or the message everywhere."""

    MESSAGE = "message"
    ALL_CHANNELS = "all_channels"


@dataclass(frozen=True, slots=True)
class Cta:
    """A call to action: its label is content field ``field``."""

    field: str
    action_type: ActionType
    action: str
    cta_type: CtaType = CtaType.BUTTON
    selected: bool = False


@dataclass(frozen=True, slots=True)
class DismissRule:
    """After a DISMISS click, hide the alert on every device of the profile for a while."""

    suppress_for: timedelta
    scope: DismissScope = DismissScope.MESSAGE


@dataclass(frozen=True, slots=True)
class FollowUp:
    """After ``after_impressions`` impressions without a CTA click, show the alert again
    with a less interruptive ``template``, only on ``platforms``, with the content
    fields in ``fields`` (field -> string key) replacing the step's own copy."""

    after_impressions: int
    template: Template
    platforms: frozenset[Platform]
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fallback:
    """What the alert becomes when the backend call of its ``BACKEND`` CTA fails: the
    same alert with ``template`` (None: its own) and the copy of ``fields`` (field ->
    string key) in place of the step's; each ``BACKEND`` CTA becomes a ``REDIRECT``
    to the action's configured fallback (or is left out without one)."""

    template: Template | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InAppSpec:
    """An in-app alert as declared in the catalog.

    ``title``, ``body`` and ``footer`` name the content fields that fill those
    elements (``None``: the alert has no such element). ``app_versions`` limits
    some platforms to a range of app versions; a platform without an entry takes
    any version. ``ttl`` is how long after its creation the alert can be fetched
    (``None``: until the message is resolved by its goal event). The template
    ``notification`` lists it in the notification center instead of showing it.
    """

    template: Template = Template.STANDARD
    body: str = "body"
    title: str | None = "title"
    footer: str | None = "footer"
    #: A field holding an image URL (notification-center items).
    image: str | None = None
    ctas: tuple[Cta, ...] = ()
    platforms: frozenset[Platform] = ALL_PLATFORMS
    app_versions: Mapping[Platform, VersionRange] = field(default_factory=dict)
    blocked_pages: tuple[str, ...] = ()
    ttl: timedelta | None = None
    dismiss: DismissRule | None = None
    follow_up: FollowUp | None = None
    #: The alert shown after a failed federated call (None: the step declares none).
    fallback: Fallback | None = None

    def eligible(self, platform: str, app_version: str | None) -> bool:
        """Whether a device of ``platform`` running ``app_version`` may show the alert.

        A platform with a version range needs a version inside it; an unknown
        version is outside every range.
        """
        if platform not in self.platforms:
            return False
        versions = self.app_versions.get(Platform(platform))
        return versions is None or (app_version is not None and versions.contains(app_version))

    def blocks(self, page: str | None) -> bool:
        """Whether the alert must not show on ``page`` (a path, query and fragment ignored).

        A blocked page covers itself and the pages under it: ``/account/phone``
        blocks ``/account/phone/edit`` but not ``/account/phones``.
        """
        if not page or not self.blocked_pages:
            return False
        path = urlsplit(page).path or "/"
        return any(_under(path, prefix) for prefix in self.blocked_pages)

    def follow_up_spec(self) -> InAppSpec | None:
        """The alert shown as the follow-up: its template and platforms, no further rules."""
        rule = self.follow_up
        if rule is None:
            return None
        return replace(
            self,
            template=rule.template,
            platforms=rule.platforms,
            app_versions={p: r for p, r in self.app_versions.items() if p in rule.platforms},
            follow_up=None,
        )

    def fallback_spec(self, action: str | None) -> InAppSpec:
        """The alert shown once a ``BACKEND`` CTA's call failed: its ``BACKEND`` CTAs
        become a ``REDIRECT`` to ``action`` (left out when None), in the fallback's
        template; no follow-up. Its own rules (dismiss, ttl, the other CTAs) end it."""
        ctas = tuple(
            replace(c, action_type=ActionType.REDIRECT, action=action)
            if c.action_type is ActionType.BACKEND and action
            else c
            for c in self.ctas
            if c.action_type is not ActionType.BACKEND or action
        )
        template = self.fallback.template if self.fallback else None
        return replace(self, template=template or self.template, ctas=ctas, follow_up=None)

    def fallback_content(self, content: Mapping[str, str]) -> Mapping[str, str]:
        """A step's content (field -> string key) with the fallback's copy in place."""
        overrides = self.fallback.fields if self.fallback else {}
        return {name: overrides.get(name, key) for name, key in content.items()}

    def follow_up_content(self, content: Mapping[str, str]) -> Mapping[str, str]:
        """A step's content (field -> string key) with the follow-up's copy in place."""
        overrides = self.follow_up.fields if self.follow_up else {}
        return {name: overrides.get(name, key) for name, key in content.items()}


def _under(path: str, prefix: str) -> bool:
    base = prefix.rstrip("/")
    return not base or path == base or path.startswith(base + "/")
