"""Loading and validating the message catalog: message files and localized strings.

A catalog directory holds ``clarion.yaml`` (catalog-wide policy),
``messages/<name>.yaml`` (one message each) and ``strings/<locale>.yaml``
(localized copy). See ``docs/catalog.md`` for the format.
"""

from clarion.catalog.issues import CatalogError, CatalogIssue, RenderError
from clarion.catalog.loaded import Catalog, check_catalog, load_catalog
from clarion.catalog.render import Rendered

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogIssue",
    "RenderError",
    "Rendered",
    "check_catalog",
    "load_catalog",
]
