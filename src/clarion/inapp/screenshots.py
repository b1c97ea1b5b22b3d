"""Localization QC: every in-app message, in every locale it has strings for, on
every platform frame it is eligible for, as PNG files and an ``index.html`` gallery.

Each shot is the real web SDK drawing the real payload (rendered with the
message's ``example`` data) in headless Chromium. The SDK's requests go to a
host that only exists inside the browser: Playwright answers them with the
assembled payload, so no server runs. A field whose copy is missing in a locale
is reported as an error and that locale is not shot, rather than shown blank.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import orjson

from clarion.catalog import Catalog
from clarion.catalog.example import example_context
from clarion.core.inapp_spec import InAppSpec, Platform, Template
from clarion.core.payload import (
    Notification,
    NotificationAction,
    alerts_response,
    assemble_alert,
    assemble_notification,
    notifications_response,
)
from clarion.core.tracking import Tracking
from clarion.inapp.browser import CHROMIUM_ARGS, chromium_path
from clarion.inapp.coverage import QC_FALLBACK_ACTION, AlertCoverage, inapp_coverage
from clarion.inapp.feedback import FeedbackSigner

if TYPE_CHECKING:  # Playwright is needed only to take the shots
    from playwright.sync_api import Route

#: Viewports standing in for each platform's screen.
FRAMES: Final[dict[Platform, tuple[int, int]]] = {
    Platform.WEB: (1280, 800),
    Platform.IOS: (390, 844),
    Platform.ANDROID: (412, 915),
    Platform.TV: (1920, 1080),
}
_HOST: Final = "http://clarion.qc"
_STATIC: Final = Path(__file__).parent / "static"
_SIGNER: Final = FeedbackSigner({"qc": b"q" * 32}, "qc", lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Shot:
    """One picture to take: an alert (or follow-up) in one locale on one platform."""

    alert: AlertCoverage
    locale: str
    platform: Platform

    @property
    def path(self) -> Path:
        return Path(self.alert.message, self.alert.variant, self.locale, f"{self.platform}.png")


@dataclass(frozen=True, slots=True)
class Report:
    shots: tuple[Shot, ...]
    errors: tuple[str, ...]


def plan(catalog: Catalog) -> tuple[list[Shot], list[str]]:
    """The shots to take, and an error for every locale missing a field's copy."""
    shots, errors = [], []
    for alert in inapp_coverage(catalog):
        source = catalog.message(alert.message).source
        for cover in alert.locales:
            for field in cover.missing:
                key = alert.content.get(field, field)
                errors.append(
                    f"{source}: channels[{alert.step}]: {alert.variant} field '{field}' "
                    f"has no {cover.locale} copy (string '{key}')"
                )
            if not cover.missing:
                shots += [Shot(alert, cover.locale, p) for p in sorted(alert.platforms)]
    return shots, errors


def _payloads(catalog: Catalog, shot: Shot) -> tuple[dict[str, object], dict[str, object]]:
    """(alerts response, notifications response) the SDK receives for ``shot``."""
    alert = shot.alert
    spec = catalog.message(alert.message)
    step = spec.channels[alert.step]
    inapp = step.inapp
    render = catalog.render
    if inapp is not None and alert.variant == "follow_up":
        inapp, render = inapp.follow_up_spec(), catalog.render_follow_up
    elif inapp is not None and alert.variant == "fallback":
        inapp, render = inapp.fallback_spec(QC_FALLBACK_ACTION), catalog.render_fallback
    assert inapp is not None, "coverage lists in-app steps only"
    fields = render(
        alert.message, alert.step, shot.locale, example_context(spec, shot.locale)
    ).fields
    tracking = Tracking(
        "QC" * 20,
        "qc-event",
        "QC-RENDER_R",
        alert.message,
        spec.id,
        shot.locale,
        inapp.template.value,
    )
    if inapp.template is not Template.NOTIFICATION:
        alerts = alerts_response([assemble_alert(inapp, fields, tracking, _SIGNER.sign)])
        return alerts, notifications_response([], 0, None)
    item = _notification(inapp, fields)
    center = [assemble_notification(item, tracking, _SIGNER.sign)]
    return alerts_response([]), notifications_response(center, 1, None)


def _notification(inapp: InAppSpec, fields: Mapping[str, str]) -> Notification:
    cta = inapp.ctas[0] if inapp.ctas else None
    return Notification(
        guid="QC" * 20,
        created_at=datetime.now(UTC),
        title=fields[inapp.title] if inapp.title else "",
        body=fields[inapp.body],
        image=fields[inapp.image] if inapp.image else None,
        action=NotificationAction(cta.action_type, cta.action) if cta else None,
    )


def take(catalog: Catalog, out: Path) -> Report:
    """Take every planned shot into ``out`` and write ``out/index.html``."""
    from playwright.sync_api import sync_playwright

    shots, errors = plan(catalog)
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("screenshots need Chromium: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            for shot in shots:
                alerts, center = _payloads(catalog, shot)
                width, height = FRAMES[shot.platform]
                context = browser.new_context(viewport={"width": width, "height": height})

                context.route(f"{_HOST}/**", _answerer(alerts, center))
                page = context.new_page()
                query = f"token=qc&deviceId=qc&locale={shot.locale}&baseUrl={_HOST}"
                notification = shot.alert.template is Template.NOTIFICATION
                page.goto(f"{_HOST}/sdk/demo.html?{query}{'&center=1' if notification else ''}")
                page.wait_for_function("window.clarionDemo && window.clarionDemo.ready")
                page.evaluate("window.clarionDemo.ready")
                page.wait_for_timeout(400)  # let entrance animations finish
                target = out / shot.path
                target.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(target))
                context.close()
        finally:
            browser.close()
    (out / "index.html").write_text(gallery(shots, errors), encoding="utf-8")
    return Report(tuple(shots), tuple(errors))


def _answerer(alerts: object, center: object) -> Callable[[Route], None]:
    """A route handler that answers the SDK's requests for one shot."""
    return lambda route: _answer(route, alerts, center)


def _answer(route: Route, alerts: object, center: object) -> None:
    path = route.request.url.removeprefix(_HOST).split("?", 1)[0]
    if path.startswith("/sdk/"):
        file = _STATIC / path.removeprefix("/sdk/")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
    elif path == "/v1/inapp/alerts":
        route.fulfill(status=200, body=orjson.dumps(alerts), content_type="application/json")
    elif path == "/v1/inapp/notifications":
        route.fulfill(status=200, body=orjson.dumps(center), content_type="application/json")
    else:  # feedback and read/archive posts: accepted, recorded nowhere
        route.fulfill(status=200, body=b'{"status": "recorded"}', content_type="application/json")


def gallery(shots: list[Shot], errors: list[str]) -> str:
    """A self-contained page: errors first, then one row per alert and locale."""
    rows: dict[tuple[str, str, str], list[Shot]] = {}
    for shot in shots:
        rows.setdefault((shot.alert.message, shot.alert.variant, shot.locale), []).append(shot)
    body = [f"<h1>In-app localization QC</h1><p>{len(shots)} screenshots</p>"]
    if errors:
        items = "".join(f"<li>{html.escape(e)}</li>" for e in errors)
        body.append(f'<h2 class="errors">{len(errors)} missing string(s)</h2><ul>{items}</ul>')
    for (message, variant, locale), group in rows.items():
        cells = "".join(
            f'<figure><a href="{s.path}"><img src="{s.path}" alt="{s.platform}"></a>'
            f"<figcaption>{s.platform}</figcaption></figure>"
            for s in group
        )
        title = html.escape(f"{message} · {variant} · {locale}")
        body.append(f"<section><h2>{title}</h2><div class=row>{cells}</div></section>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#111}"
        ".row{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}"
        "figure{margin:0}img{max-height:320px;border:1px solid #ddd;border-radius:6px}"
        ".errors{color:#b00020}"
    )
    head = f"<!doctype html><meta charset=utf-8><title>Clarion QC</title><style>{style}</style>"
    return head + "".join(body)
