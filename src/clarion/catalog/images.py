"""Image fields of in-app steps, checked with each message's example in every locale.

A device only gets an image that is an ``https://`` URL or an app path
(``clarion.core.payload.is_image_url``); anything else is left out of the payload
at fetch time. Rendering the image string with the message's example at load
makes a wrong scheme (``http://``, ``data:``) a catalog error naming the string
file and key, instead of an image that silently never shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clarion.catalog.example import example_context
from clarion.catalog.issues import CatalogIssue, RenderError
from clarion.core.payload import is_image_url

if TYPE_CHECKING:
    from clarion.catalog.loaded import Catalog


def image_issues(catalog: Catalog) -> list[CatalogIssue]:
    """One issue per string (file and key) whose image renders to an unusable URL."""
    found: dict[tuple[str, str], CatalogIssue] = {}
    for name, spec in sorted(catalog.spec.messages.items()):
        for step in spec.channels:
            field = step.inapp.image if step.inapp is not None else None
            if field is None or field not in step.content:
                continue
            key = step.content[field]
            for locale in catalog.locales:
                try:
                    rendered = catalog.render(
                        name, step.index, locale, example_context(spec, locale)
                    )
                except RenderError:
                    continue  # the rendering tests and screenshots report these
                url = rendered.fields.get(field, "").strip()
                source = catalog.string_source(key, locale)
                if not url or is_image_url(url) or source is None:
                    continue
                where = (f"strings/{source}.yaml", key)
                found.setdefault(
                    where,
                    CatalogIssue(
                        *where,
                        f"image of messages/{name}.yaml channels[{step.index}] renders "
                        f"{url[:80]!r} (with the message's example): devices only get "
                        "https:// URLs or app paths starting with /",
                    ),
                )
    return list(found.values())
