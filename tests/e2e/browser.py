"""Headless Chromium for the end-to-end tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser downloads are never used (``playwright install`` is not
run anywhere): the browser is the system's, named by ``executable_path``. Without
it the browser tests are skipped with a message, except in CI (``CI`` set), where
that is a failure, so a CI machine without Chromium cannot pass silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Final, NoReturn
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from clarion.inapp.browser import CHROMIUM_ARGS, chromium_path

#: The desktop viewport the tests and screenshots use.
VIEWPORT: Final = {"width": 1280, "height": 800}


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Module scope, not session: Playwright's sync API keeps an event loop of its own
    alive while it runs, and tests elsewhere in the session use ``asyncio.run``.
    """
    path = chromium_path()
    if path is None:
        _unavailable(
            "Chromium not found: install Debian's package (apt-get install chromium) "
            "to run the browser tests"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Makes browser contexts (each one a separate "device": no shared storage).

    Every context is closed after the test, and an uncaught JavaScript error in
    any of its pages fails the test.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


def demo_url(base: str, token: str, device_id: str, page: str = "/home", **extra: str) -> str:
    """The SDK's demo page (``/sdk/demo.html``) for one device, showing ``page``'s alerts."""
    query = {"token": token, "deviceId": device_id, "appVersion": "1.0.0", "locale": "en"}
    return f"{base}/sdk/demo.html?{urlencode({**query, 'page': page, **extra})}"


def open_demo(context: BrowserContext, url: str) -> Page:
    """A new page on the demo, once it has fetched and drawn its alerts (or failed to)."""
    page = context.new_page()
    page.goto(url)
    status = page.locator("#clarion-demo-status")
    expect(status).to_have_attribute("data-clarion-demo-status", re.compile("^(ready|error)"))
    text = status.text_content() or ""
    assert text.startswith("ready"), f"{text}; {page.evaluate('window.clarionDemo.errors')}"
    settle(page)
    return page


def settle(page: Page) -> None:
    """Waits for running animations (the alerts' entrances), so geometry is final."""
    page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")
