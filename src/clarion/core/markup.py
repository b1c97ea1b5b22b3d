"""The copy markup of localized strings: ``**bold**``, ``[text](url)`` and newlines.

Rendered strings stay in this small markup until a channel needs its own form:
``parse`` gives the in-app contract's copy elements (DESIGN.md section 5),
``to_plain`` the text for SMS, push and voice, ``to_html`` the body of an email.

Anything that does not form a complete construct is literal text: an unclosed
``**``, a ``[`` without ``](url)``, a link whose URL has an unsafe scheme. So
parsing never fails, and copy authors see their typo instead of a lost message.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

ElementType = Literal["TEXT", "BOLD", "LINK", "NEWLINE"]

# Links may only point at the web, mail, phone or an app-relative path: the URL
# can come from event data, and ``javascript:`` in an email or UI is an injection.
_URL: Final = r"(?:https?://|mailto:|tel:|/)[^\s()]*"
_TOKENS: Final = re.compile(
    r"\*\*(?P<bold>[^\n\r]+?)\*\*"
    rf"|\[(?P<text>[^\]\n\r]+)\]\((?P<url>{_URL})\)"
    r"|(?P<newline>\r\n|\n|\r)"
)


@dataclass(frozen=True, slots=True)
class CopyElement:
    """One element of a copy: plain text, bold text, a link (with ``url``) or a newline."""

    element_type: ElementType
    content: str
    url: str | None = None

    def to_json(self) -> dict[str, str]:
        """The element as the in-app payload contract spells it."""
        out = {"elementType": self.element_type, "content": self.content}
        if self.element_type == "LINK" and self.url is not None:
            out["url"] = self.url
        return out


_NEWLINE: Final = CopyElement("NEWLINE", "\n")


def parse(text: str) -> tuple[CopyElement, ...]:
    """Split ``text`` into copy elements; adjacent text merges and empty text is dropped."""
    elements: list[CopyElement] = []
    pending: list[str] = []  # literal text not yet flushed, so neighbours merge

    def flush() -> None:
        literal = "".join(pending)
        pending.clear()
        if literal:
            elements.append(CopyElement("TEXT", literal))

    position = 0
    for match in _TOKENS.finditer(text):
        pending.append(text[position : match.start()])
        position = match.end()
        flush()
        if match["bold"] is not None:
            elements.append(CopyElement("BOLD", match["bold"]))
        elif match["text"] is not None:
            elements.append(CopyElement("LINK", match["text"], match["url"]))
        else:
            elements.append(_NEWLINE)
    pending.append(text[position:])
    flush()
    return tuple(elements)


def to_plain(text: str) -> str:
    """Text for channels without formatting: bold markers dropped, links as ``text (url)``."""
    parts: list[str] = []
    for element in parse(text):
        if element.element_type == "LINK" and element.content != element.url:
            parts.append(f"{element.content} ({element.url})")
        else:
            parts.append(element.content)
    return "".join(parts)


def _same(url: str) -> str:
    return url


def to_html(text: str, href: Callable[[str], str] = _same) -> str:
    """An HTML fragment: text escaped, ``<strong>``, ``<a href>`` and ``<br>``.

    ``href`` maps each link's URL to the one written out (email click tracking
    routes links through Clarion); its result is escaped like the rest.
    """
    parts: list[str] = []
    for element in parse(text):
        content = html.escape(element.content)
        if element.element_type == "BOLD":
            parts.append(f"<strong>{content}</strong>")
        elif element.element_type == "LINK":
            parts.append(f'<a href="{html.escape(href(element.url or ""))}">{content}</a>')
        elif element.element_type == "NEWLINE":
            parts.append("<br>")
        else:
            parts.append(content)
    return "".join(parts)
