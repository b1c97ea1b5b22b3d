"""The web SDK in headless Chromium against a stub of the device API.

The stub is a small Starlette app of this module on a real socket: it serves the
SDK folder exactly as Clarion mounts it (``/sdk``, StaticFiles), answers the
device endpoints with payloads built by Clarion's own assembly code (the example
catalog's ``payment_failed`` alert, feedback signed by a real ``FeedbackSigner``),
and records every request, so the tests see exactly what the browser sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import clarion.inapp
from clarion.catalog import load_catalog
from clarion.catalog.example import example_context
from clarion.core.inapp_spec import ActionType, InAppSpec, Template
from clarion.core.payload import (
    Notification,
    NotificationAction,
    assemble_alert,
    assemble_notification,
)
from clarion.core.tracking import Tracking
from clarion.inapp import FeedbackSigner
from clarion.inapp.contract import AlertsResponse, NotificationsResponse
from tests.e2e.browser import demo_url as device_demo_url
from tests.e2e.browser import open_demo
from tests.e2e.server import serving

STATIC = Path(clarion.inapp.__file__).parent / "static"
CATALOG = Path(__file__).parents[2] / "catalog"
TOKEN = "device-token-for-ana"
CONTEXT = {"platform": "web", "deviceId": "laptop", "appVersion": "1.0.0"}
SIGNER = FeedbackSigner({"2024-05": b"s" * 32}, "2024-05", lambda: datetime.now(UTC))
ALERT = "[data-clarion-alert]"
#: What the SDK says about the device on every notification-center request.
CENTER_QUERY = {"platform": "web", "deviceId": "laptop", "appVersion": "1.0.0", "locale": "en"}
TIMEOUT = 10.0


#: What each notification-center post of the stub changes in an item.
CHANGES: dict[str, dict[str, Any]] = {
    "read": {"read": True},
    "archive": {"archived": True},
    "unarchive": {"archived": False},
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: bytes


@dataclass
class Stub:
    """What the stub answers, and every request it got."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    #: The fallback alert a BACKEND CTA's feedback is answered with (its call failed).
    fallback: dict[str, Any] | None = None
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def change(self, guid: str, op: str) -> None:
        """A notification-center post: ``read``, ``archive`` or ``unarchive`` an item."""
        with self.lock:
            for i, item in enumerate(self.notifications):
                if item.guid == guid:
                    self.notifications[i] = replace(item, **CHANGES.get(op, {}))

    def read_all(self) -> int:
        with self.lock:
            unread = [i for i, n in enumerate(self.notifications) if not n.read]
            for i in unread:
                self.notifications[i] = replace(self.notifications[i], read=True)
        return len(unread)

    def feedback(self) -> list[bytes]:
        """The raw bodies of the feedback posts, in arrival order."""
        return [r.body for r in self.calls("POST", "/v1/inapp/feedback")]

    def wait_feedback(self, count: int) -> list[bytes]:
        """The feedback posts once there are ``count``; fails if there are more."""
        wait_until(lambda: len(self.feedback()) >= count)
        bodies = self.feedback()
        assert len(bodies) == count, [json.loads(b) for b in bodies]
        return bodies


def wait_until(check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(0.02)
    return value


def stub_app(stub: Stub) -> Starlette:
    async def record(request: Request) -> Response | None:
        body = await request.body()
        auth = request.headers.get("authorization")
        with stub.lock:
            stub.requests.append(
                Recorded(request.method, request.url.path, dict(request.query_params), auth, body)
            )
        if auth != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
        return None

    async def alerts(request: Request) -> Response:
        denied = await record(request)
        payload = AlertsResponse.model_validate({"alerts": stub.alerts})  # the contract holds
        return denied or JSONResponse(payload.model_dump(mode="json", by_alias=True))

    async def feedback(request: Request) -> Response:
        denied = await record(request)
        posted = json.loads(await request.body() or b"{}")  # read once, cached
        if denied is None and stub.fallback and posted["feedback"].get("actionType") == "BACKEND":
            effects = ["action", "federated:SEND_LINK:failed", "fallback_shown"]
            return JSONResponse(
                {"status": "recorded", "effects": effects, "fallback": stub.fallback}
            )
        return denied or JSONResponse({"status": "recorded"})

    async def notifications(request: Request) -> Response:
        denied = await record(request)
        return denied or JSONResponse(notification_page(stub, request))

    async def change(request: Request) -> Response:
        denied = await record(request)
        if denied:
            return denied
        stub.change(request.path_params["guid"], request.path_params["op"])
        return Response(status_code=204)

    async def read_all(request: Request) -> Response:
        denied = await record(request)
        if denied:
            return denied
        return JSONResponse({"marked": stub.read_all()})

    return Starlette(
        routes=[
            Route("/v1/inapp/alerts", alerts, methods=["GET"]),
            Route("/v1/inapp/feedback", feedback, methods=["POST"]),
            Route("/v1/inapp/notifications", notifications, methods=["GET"]),
            Route("/v1/inapp/notifications/read-all", read_all, methods=["POST"]),
            Route("/v1/inapp/notifications/{guid}/{op:str}", change, methods=["POST"]),
            Mount("/sdk", StaticFiles(directory=STATIC)),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        ],
    )


def notification_page(stub: Stub, request: Request) -> dict[str, Any]:
    """Newest first, keyset-paginated by the guid of a page's last item."""
    limit = int(request.query_params.get("limit", "20"))
    cursor = request.query_params.get("cursor")
    archived = request.query_params.get("archived") == "true"
    with stub.lock:
        live = sorted(
            (n for n in stub.notifications if archived or not n.archived),
            key=lambda n: n.created_at,
            reverse=True,
        )
    unread = sum(not n.read for n in live)
    if cursor is not None:
        live = live[[n.guid for n in live].index(cursor) + 1 :]
    page = live[:limit]
    next_cursor = page[-1].guid if len(live) > limit else None
    items = [assemble_notification(n, tracking("notification", n.guid), SIGNER.sign) for n in page]
    body = {"notifications": items, "unreadCount": unread, "nextCursor": next_cursor}
    NotificationsResponse.model_validate(body)
    return body


def tracking(template: str, render: str) -> Tracking:
    return Tracking(
        message_guid=f"M-{render}",
        event_guid="E-1",
        render_guid=f"R-{render}",
        message_name="payment_failed",
        message_id=1001,
        locale="en",
        template_id=template,
    )


@cache
def payment_failed() -> tuple[InAppSpec, Mapping[str, str]]:
    """The example catalog's payment_failed alert: its spec and English copy."""
    catalog = load_catalog(CATALOG)
    message = catalog.message("payment_failed")
    rendered = catalog.render("payment_failed", 0, "en", example_context(message, "en"))
    spec = message.channels[0].inapp
    assert isinstance(spec, InAppSpec)
    return spec, rendered.fields


def payment_alert(template: Template = Template.STANDARD, render: str = "1") -> dict[str, Any]:
    """The payment_failed alert, drawn with ``template``."""
    spec, fields = payment_failed()
    return assemble_alert(
        replace(spec, template=template), fields, tracking(template.value, render), SIGNER.sign
    )


def compact(value: object) -> bytes:
    """JSON as ``JSON.stringify`` writes it: no spaces, non-ASCII as is, keys in order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def posted(feedback: object) -> bytes:
    """The exact body the SDK must post for ``feedback``."""
    return b'{"feedback":' + compact(feedback) + b',"context":' + compact(CONTEXT) + b"}"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Stub, str]]:
    stub = Stub()
    with serving(stub_app(stub)) as url:
        yield stub, url


@pytest.fixture
def stub(served: tuple[Stub, str]) -> Stub:
    fresh = served[0]
    with fresh.lock:
        fresh.alerts.clear()
        fresh.notifications.clear()
        fresh.requests.clear()
        fresh.fallback = None
    return fresh


@pytest.fixture
def base_url(served: tuple[Stub, str]) -> str:
    return served[1]


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


def demo_url(base: str, page: str = "/home", **extra: str) -> str:
    return device_demo_url(base, TOKEN, "laptop", page, **extra)


@pytest.mark.parametrize("template", [Template.STANDARD, Template.BANNER, Template.FULLSCREEN])
def test_each_template_renders_from_the_payload(
    template: Template, stub: Stub, base_url: str, context: BrowserContext, tmp_path: Path
) -> None:
    stub.alerts[:] = [payment_alert(template)]
    page = open_demo(context, demo_url(base_url))
    dialog = page.locator(ALERT)
    expect(dialog).to_have_count(1)
    expect(dialog).to_have_attribute("data-clarion-template", template.value)
    expect(dialog).to_have_attribute("role", "dialog")
    title_id = dialog.get_attribute("aria-labelledby")
    expect(page.locator(f"#{title_id}")).to_have_text("Your payment didn't go through")
    expect(dialog.locator("[data-clarion-body]")).to_contain_text("Stranger Things")
    expect(dialog.locator("[data-clarion-body] strong")).to_have_text("Stranger Things")
    ctas = dialog.locator("button[data-clarion-cta]")
    expect(ctas).to_have_count(2)
    update = dialog.locator("button[data-clarion-cta=UPDATE_PAYMENT]")
    expect(update).to_have_text("Update payment")
    expect(update).to_have_class(re.compile(r"\bselected\b"))
    expect(update).to_be_focused()
    expect(dialog.locator("button[data-clarion-cta=DISMISS_ALERT]")).to_have_text("Not now")
    expect(dialog.locator("[data-clarion-footer] a")).to_have_attribute("rel", "noopener")

    box = dialog.bounding_box()
    assert box is not None
    if template is Template.BANNER:  # a slim bar along the top, not modal
        assert dialog.get_attribute("aria-modal") is None
        assert box["y"] == 0 and box["width"] == 1280 and box["height"] < 120, box
    elif template is Template.FULLSCREEN:  # covers the viewport
        expect(dialog).to_have_attribute("aria-modal", "true")
        assert box == {"x": 0, "y": 0, "width": 1280, "height": 800}
    else:  # a card centred over a dimmed page
        expect(dialog).to_have_attribute("aria-modal", "true")
        assert abs(box["x"] + box["width"] / 2 - 640) < 1 and box["width"] <= 440, box
        assert abs(box["y"] + box["height"] / 2 - 400) < 1, box
        overlay = page.locator("[data-clarion-overlay]").bounding_box()
        assert overlay == {"x": 0, "y": 0, "width": 1280, "height": 800}
    page.screenshot(path=tmp_path / f"{template.value}.png", animations="disabled")
    assert (tmp_path / f"{template.value}.png").stat().st_size > 10_000


def test_the_fetch_names_the_device_and_page_and_carries_the_token(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    open_demo(context, demo_url(base_url, page="/browse/series"))
    [fetch] = stub.calls("GET", "/v1/inapp/alerts")
    assert fetch.authorization == f"Bearer {TOKEN}"
    assert fetch.query == {
        "platform": "web",
        "deviceId": "laptop",
        "appVersion": "1.0.0",
        "locale": "en",
        "page": "/browse/series",
    }


def test_copy_renders_bold_links_and_newlines_and_never_markup_or_script_links(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    alert = payment_alert()
    alert["template"]["body"] = {
        "copy": [
            {"elementType": "TEXT", "content": "Hi "},
            {"elementType": "BOLD", "content": "Ana"},
            {"elementType": "NEWLINE", "content": "\n"},
            {"elementType": "TEXT", "content": '<img src=x onerror="window.pwned=1"> & more'},
            {"elementType": "NEWLINE", "content": "\n"},
            {"elementType": "LINK", "content": "Update", "url": "/account/payment"},
            {"elementType": "LINK", "content": "Mail us", "url": "mailto:help@example.com"},
            {"elementType": "LINK", "content": "Help", "url": "https://help.example.com/x"},
            {"elementType": "LINK", "content": "Trap", "url": "javascript:window.pwned=1"},
            {"elementType": "LINK", "content": "Trap2", "url": "java\tscript:window.pwned=1"},
            {"elementType": "LINK", "content": "Trap3", "url": " JAVASCRIPT:window.pwned=1"},
            {"elementType": "LINK", "content": "Trap4", "url": "data:text/html,<b>x</b>"},
        ]
    }
    stub.alerts[:] = [alert]
    page = open_demo(context, demo_url(base_url))
    body = page.locator(f"{ALERT} [data-clarion-body]")
    expect(body.locator("strong")).to_have_text("Ana")
    expect(body.locator("br")).to_have_count(2)
    expect(body.locator("img")).to_have_count(0)
    expect(body).to_contain_text('<img src=x onerror="window.pwned=1"> & more')
    links = body.locator("a")
    expect(links).to_have_count(3)
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == ["/account/payment", "mailto:help@example.com", "https://help.example.com/x"]
    assert all(links.nth(i).get_attribute("rel") == "noopener" for i in range(3))
    for trap in ("Trap", "Trap2", "Trap3", "Trap4"):  # shown as plain text
        expect(body).to_contain_text(trap)
    assert page.evaluate("window.pwned") is None
    assert page.locator("[data-clarion-alert] a[href^='javascript' i]").count() == 0


def test_a_blocked_page_shows_nothing_and_posts_nothing(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    stub.alerts[:] = [payment_alert()]  # blockedPages: ["/account/payment"]
    for path in ("/account/payment", "/account/payment/edit?step=2"):
        page = open_demo(context, demo_url(base_url, page=path))
        expect(page.locator("#clarion-demo-status")).to_have_text("ready: 0 alert(s)")
        assert page.locator(ALERT).count() == 0
        page.close()
    page = open_demo(context, demo_url(base_url, page="/account/payments"))  # not under it
    expect(page.locator(ALERT)).to_have_count(1)
    [impression] = stub.wait_feedback(1)
    assert impression == posted(stub.alerts[0]["attributes"]["impressionFeedback"])


@pytest.mark.parametrize("how", ["click", "escape"])
def test_not_now_posts_its_feedback_unchanged_and_closes_the_alert(
    how: str, stub: Stub, base_url: str, context: BrowserContext
) -> None:
    alert = payment_alert()
    stub.alerts[:] = [alert]
    page = open_demo(context, demo_url(base_url))
    expect(page.locator(ALERT)).to_have_count(1)
    [impression] = stub.wait_feedback(1)
    assert impression == posted(alert["attributes"]["impressionFeedback"])  # byte for byte
    if how == "click":
        page.locator("[data-clarion-cta=DISMISS_ALERT]").click()
    else:
        page.keyboard.press("Escape")
    expect(page.locator(ALERT)).to_have_count(0)
    expect(page.locator("[data-clarion-overlay]")).to_have_count(0)
    dismiss = next(c for c in alert["template"]["ctas"] if c["action"] == "DISMISS_ALERT")
    # Exactly one impression, then the click; nothing else.
    assert stub.wait_feedback(2) == [impression, posted(dismiss["ctaFeedback"])]
    assert page.evaluate("window.clarionDemo.actions") == []
    assert page.evaluate("document.documentElement.className") == ""  # scroll unlocked


def test_a_redirect_cta_emits_clarion_action_posts_feedback_and_closes(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    alert = payment_alert()
    stub.alerts[:] = [alert]
    page = open_demo(context, demo_url(base_url))
    page.locator("[data-clarion-cta=UPDATE_PAYMENT]").click()
    expect(page.locator(ALERT)).to_have_count(0)
    assert page.evaluate("window.clarionDemo.actions") == [
        {"action": "UPDATE_PAYMENT", "actionType": "REDIRECT"}
    ]
    update = next(c for c in alert["template"]["ctas"] if c["action"] == "UPDATE_PAYMENT")
    assert stub.wait_feedback(2)[1] == posted(update["ctaFeedback"])


def test_modals_show_one_at_a_time_and_banners_at_once(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    first, second = payment_alert(render="a"), payment_alert(Template.FULLSCREEN, render="b")
    banner = payment_alert(Template.BANNER, render="c")
    stub.alerts[:] = [first, second, banner]
    page = open_demo(context, demo_url(base_url))
    templates = page.locator(ALERT)
    expect(templates).to_have_count(2)
    assert {templates.nth(i).get_attribute("data-clarion-template") for i in range(2)} == {
        "standard",
        "banner",
    }
    assert len(stub.wait_feedback(2)) == 2  # impressions of what is on screen only
    page.locator("[data-clarion-template=standard] [data-clarion-cta=DISMISS_ALERT]").click()
    expect(page.locator("[data-clarion-template=fullscreen]")).to_have_count(1)
    expect(page.locator("[data-clarion-template=fullscreen] .selected")).to_be_focused()
    bodies = stub.wait_feedback(4)
    assert bodies[3] == posted(second["attributes"]["impressionFeedback"])


def test_the_notification_center_badge_read_archive_and_more(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    redirect = NotificationAction(ActionType.REDIRECT, "/title/dark")
    stub.notifications[:] = [
        Notification(f"n{i}", start + timedelta(hours=i), f"Title {i}", f"Body **{i}**")
        for i in range(4)
    ]
    stub.notifications[1] = replace(stub.notifications[1], read=True)
    stub.notifications[3] = replace(
        stub.notifications[3], action=redirect, image="https://img.example.com/dark.jpg"
    )
    page = open_demo(context, demo_url(base_url, center="1", limit="3"))
    center = page.locator("[data-clarion-center]")
    badge = center.locator("[data-clarion-badge]")
    expect(badge).to_have_text("3")  # n0, n2 and n3 are unread; n0 is on page 2
    items = center.locator("[data-clarion-notification]")
    expect(items).to_have_count(3)
    guids = [items.nth(i).get_attribute("data-clarion-notification") for i in range(3)]
    assert guids == ["n3", "n2", "n1"]  # newest first
    expect(center.locator("[data-clarion-read=false]")).to_have_count(2)
    expect(center.locator("[data-clarion-notification=n3] img")).to_have_count(1)
    stub.wait_feedback(3)  # one impression per item shown

    center.locator("[data-clarion-notification=n3] [data-clarion-open]").click()
    expect(center.locator("[data-clarion-notification=n3]")).to_have_attribute(
        "data-clarion-read", "true"
    )
    expect(badge).to_have_text("2")
    wait_until(lambda: stub.calls("POST", "/v1/inapp/notifications/n3/read"))
    assert page.evaluate("window.clarionDemo.actions") == [
        {"action": "/title/dark", "actionType": "REDIRECT", "notification": "n3"}
    ]
    assert len(stub.wait_feedback(4)) == 4  # the click's actionFeedback

    center.locator("[data-clarion-notification=n2] [data-clarion-archive]").click()
    expect(center.locator("[data-clarion-notification=n2]")).to_have_count(0)
    expect(badge).to_have_text("1")
    wait_until(lambda: stub.calls("POST", "/v1/inapp/notifications/n2/archive"))

    more = center.locator("[data-clarion-more]")
    more.click()
    expect(center.locator("[data-clarion-notification=n0]")).to_have_count(1)
    expect(more).to_be_hidden()
    [_, second] = stub.calls("GET", "/v1/inapp/notifications")
    assert second.query == {**CENTER_QUERY, "limit": "3", "cursor": "n1"}
    expect(badge).to_have_text("1")  # the server's count, after the read and the archive
    assert stub.calls("POST", "/v1/inapp/notifications/n1/read") == []
    assert len(stub.wait_feedback(5)) == 5  # n0's impression


def test_works_from_another_origin_through_cors(
    served: tuple[Stub, str], stub: Stub, context: BrowserContext
) -> None:
    alert = payment_alert()
    stub.alerts[:] = [alert]
    with serving(stub_app(stub)) as page_origin:  # the same stub on a second port
        api = served[1]
        page = open_demo(context, demo_url(page_origin, baseUrl=api))
        page.locator("[data-clarion-cta=DISMISS_ALERT]").click()
        expect(page.locator(ALERT)).to_have_count(0)
        dismiss = alert["template"]["ctas"][1]["ctaFeedback"]
        assert stub.wait_feedback(2)[1] == posted(dismiss)


def test_the_sdk_is_an_es_module_too(base_url: str, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{base_url}/sdk/demo.html?fetch=0")
    exported = page.evaluate(
        """async () => {
            const sdk = await import("./clarion-inapp.esm.js");
            return [typeof sdk.create, sdk.version === window.ClarionInApp.version,
                    sdk.default === window.ClarionInApp];
        }"""
    )
    assert exported == ["function", True, True]


def test_the_center_names_the_device_and_locale_marks_all_read_and_unarchives(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    stub.notifications[:] = [
        Notification(f"n{i}", start + timedelta(hours=i), f"Title {i}", f"Body {i}")
        for i in range(3)
    ]
    stub.notifications[0] = replace(stub.notifications[0], archived=True)
    page = open_demo(context, demo_url(base_url, center="1", archived="1", locale="es-ES"))
    [fetch] = stub.calls("GET", "/v1/inapp/notifications")
    # The server assembles the items in this locale, under this device's rules.
    assert fetch.query == {
        **CENTER_QUERY,
        "locale": "es-ES",
        "limit": "20",
        "archived": "true",
    }
    center = page.locator("[data-clarion-center]")
    items = center.locator("[data-clarion-notification]")
    expect(items).to_have_count(3)
    expect(center.locator("[data-clarion-badge]")).to_have_text("3")

    read_all = center.locator("[data-clarion-read-all]")
    expect(read_all).to_have_text("Mark all as read")
    read_all.click()
    expect(center.locator("[data-clarion-read=false]")).to_have_count(0)
    expect(center.locator("[data-clarion-badge]")).to_be_hidden()
    expect(read_all).to_be_hidden()
    [posted] = wait_until(lambda: stub.calls("POST", "/v1/inapp/notifications/read-all"))
    assert posted.query == {"platform": "web", "deviceId": "laptop", "appVersion": "1.0.0"}

    archived = center.locator("[data-clarion-notification=n0]")
    expect(archived).to_have_attribute("data-clarion-archived", "true")
    expect(center.locator("[data-clarion-unarchive]")).to_have_count(1)
    archived.locator("[data-clarion-unarchive]").click()
    expect(archived).to_have_attribute("data-clarion-archived", "false")
    expect(archived.locator("[data-clarion-archive]")).to_have_count(1)
    wait_until(lambda: stub.calls("POST", "/v1/inapp/notifications/n0/unarchive"))
    assert not stub.notifications[0].archived
    assert page.evaluate("window.clarionDemo.errors") == []


def test_a_failed_backend_cta_shows_the_fallback_the_answer_carries(
    stub: Stub, base_url: str, context: BrowserContext
) -> None:
    alert = payment_alert()
    send_link = alert["template"]["ctas"][0]
    send_link.update(actionType="BACKEND", action="SEND_LINK")
    send_link["ctaFeedback"] = {**send_link["ctaFeedback"], "actionType": "BACKEND"}
    stub.alerts[:] = [alert]
    stub.fallback = payment_alert(Template.BANNER, render="fallback")
    page = open_demo(context, demo_url(base_url, locale="es-ES"))
    expect(page.locator(ALERT)).to_have_count(1)
    page.locator("[data-clarion-cta=SEND_LINK]").click()
    # The clicked alert closes; the fallback from the answer takes its place.
    banner = page.locator("[data-clarion-template=banner]")
    expect(banner).to_have_count(1)
    expect(page.locator("[data-clarion-template=standard]")).to_have_count(0)
    expect(banner.locator("[data-clarion-cta=UPDATE_PAYMENT]")).to_have_text("Update payment")
    impression, click, shown = stub.wait_feedback(3)
    assert impression == posted(alert["attributes"]["impressionFeedback"])
    # The click says the device's locale: the service assembles the fallback in it.
    sent = json.loads(click)
    assert sent["context"] == {**CONTEXT, "locale": "es-ES"}
    assert sent["feedback"] == send_link["ctaFeedback"]
    assert shown == posted(stub.fallback["attributes"]["impressionFeedback"])
    assert page.evaluate("window.clarionDemo.errors") == []
