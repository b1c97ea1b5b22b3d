"""The browser fixtures, for every end-to-end test module."""

from tests.e2e.browser import browser, new_context

__all__ = ["browser", "new_context"]
