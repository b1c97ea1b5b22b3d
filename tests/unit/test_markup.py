"""The copy markup: **bold**, [text](url), newlines."""

import html
import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from clarion.core.markup import CopyElement, parse, to_html, to_plain

MARKUP_CHARS = "*[]()\n\r"
plain_text = st.text(alphabet=st.characters(blacklist_characters=MARKUP_CHARS))
# Markup-heavy text: fragments that form (or almost form) bold, links and newlines.
TOKENS = [*"ab *[]()\n\r:/<&", "**", "https://x.io", "](", "javascript:", "mailto:x"]
markup_text = st.one_of(st.text(), st.lists(st.sampled_from(TOKENS)).map("".join))


def test_parse_contract_example() -> None:
    elements = parse("Update your payment method to keep watching **Stranger Things**.")
    assert [e.to_json() for e in elements] == [
        {"elementType": "TEXT", "content": "Update your payment method to keep watching "},
        {"elementType": "BOLD", "content": "Stranger Things"},
        {"elementType": "TEXT", "content": "."},
    ]


def test_links_and_newlines() -> None:
    assert parse("See [Help](https://help.example.com)\nthanks") == (
        CopyElement("TEXT", "See "),
        CopyElement("LINK", "Help", "https://help.example.com"),
        CopyElement("NEWLINE", "\n"),
        CopyElement("TEXT", "thanks"),
    )
    assert parse("[Help](https://h.io)")[0].to_json() == {
        "elementType": "LINK",
        "content": "Help",
        "url": "https://h.io",
    }
    assert parse("a\r\nb") == (
        CopyElement("TEXT", "a"),
        CopyElement("NEWLINE", "\n"),
        CopyElement("TEXT", "b"),
    )
    assert "url" not in CopyElement("TEXT", "x").to_json()


def test_incomplete_or_unsafe_markup_is_literal() -> None:
    assert parse("2 ** 3 is 8") == (CopyElement("TEXT", "2 ** 3 is 8"),)
    assert parse("**bold\nnot**") == (
        CopyElement("TEXT", "**bold"),
        CopyElement("NEWLINE", "\n"),
        CopyElement("TEXT", "not**"),
    )
    assert parse("****") == (CopyElement("TEXT", "****"),)
    assert parse("[x](javascript:alert(1))") == (CopyElement("TEXT", "[x](javascript:alert(1))"),)
    assert parse("[x]") == (CopyElement("TEXT", "[x]"),)


def test_app_paths_mail_and_phone_links() -> None:
    assert parse("[Pay](/account/payment)")[0].url == "/account/payment"
    assert parse("[Mail](mailto:help@example.com)")[0].url == "mailto:help@example.com"
    assert parse("[Call](tel:+15551234)")[0].url == "tel:+15551234"


def test_empty_text() -> None:
    assert parse("") == ()
    assert to_plain("") == to_html("") == ""


def test_to_plain() -> None:
    assert to_plain("Keep watching **Dark**.\n[Pay now](https://x.io/pay)") == (
        "Keep watching Dark.\nPay now (https://x.io/pay)"
    )
    assert to_plain("[https://x.io](https://x.io)") == "https://x.io"


def test_to_html() -> None:
    assert to_html('Hi <b> & **"you"**\n[Pay](https://x.io/?a=1&b=2)') == (
        "Hi &lt;b&gt; &amp; <strong>&quot;you&quot;</strong><br>"
        '<a href="https://x.io/?a=1&amp;b=2">Pay</a>'
    )


@given(markup_text)
def test_parse_never_raises_and_normalizes_text(text: str) -> None:
    elements = parse(text)
    for left, right in itertools.pairwise(elements):
        assert not (left.element_type == right.element_type == "TEXT")
    assert all(e.content for e in elements)
    assert all((e.url is not None) == (e.element_type == "LINK") for e in elements)


@given(plain_text)
def test_text_without_markup_is_unchanged(text: str) -> None:
    assert parse(text) == ((CopyElement("TEXT", text),) if text else ())
    assert to_plain(text) == text
    assert to_html(text) == html.escape(text)


@given(markup_text)
def test_html_has_no_tags_but_its_own(text: str) -> None:
    tags = re.sub(r"</?(strong|a)( href=\"[^\"]*\")?>|<br>", "", to_html(text))
    assert "<" not in tags and ">" not in tags


@given(markup_text)
def test_plain_keeps_every_text_character(text: str) -> None:
    # Dropping markup never loses the visible words: each text element survives as is.
    plain = to_plain(text)
    for element in parse(text):
        assert element.content in plain


def test_to_html_maps_link_urls_and_escapes_the_result() -> None:
    rendered = to_html("[Pay](https://x.io/p) or [mail](mailto:a@b.c)", lambda url: url + '?"x"&')
    assert rendered == (
        '<a href="https://x.io/p?&quot;x&quot;&amp;">Pay</a> or '
        '<a href="mailto:a@b.c?&quot;x&quot;&amp;">mail</a>'
    )
