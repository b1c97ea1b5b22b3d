"""Rendering: per-field locale fallback, strict variables, Babel formatting by locale."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel import Locale

from clarion.catalog import Catalog, RenderError, load_catalog
from clarion.catalog.helpers import NAMES, helpers

EXAMPLE = Path(__file__).parents[2] / "catalog"
PAYMENT = {
    "profile": {"id": "p1", "attributes": {}},
    "event": {"amount": 1234.5, "currency": "BRL", "show_title": "Stranger Things"},
    "event_type": "payment.failed",
}
MESSAGE = """\
name: note
id: 1
category: account
trigger: {event: note}
channels:
  - channel: webhook  # any content fields
    content: {a: s.a, b: s.b, c: s.c}
"""


def tiny(root: Path, strings: dict[str, str]) -> Catalog:
    (root / "messages").mkdir()
    (root / "strings").mkdir()
    (root / "messages" / "note.yaml").write_text(MESSAGE)
    for locale, text in strings.items():
        (root / "strings" / f"{locale}.yaml").write_text(text)
    return load_catalog(root)


def test_example_renders_copy_markup() -> None:
    rendered = load_catalog(EXAMPLE).render("payment_failed", 0, "en", PAYMENT)
    assert rendered.locale == "en"
    assert rendered.fields["body"] == (
        "Update your payment method to keep watching **Stranger Things**."
    )
    assert list(rendered.fields) == ["title", "body", "cta_update", "cta_dismiss", "footer"]


def test_example_pt_br_falls_back_per_field() -> None:
    catalog = load_catalog(EXAMPLE)
    rendered = catalog.render("payment_failed", 0, "pt-BR", PAYMENT)
    assert rendered.locale == "pt"  # the title has no pt-BR copy
    assert rendered.fields["title"] == "O seu pagamento não foi concluído"
    assert rendered.fields["body"].startswith("Atualize sua forma de pagamento")
    push = catalog.render("payment_failed", 1, "pt_BR", PAYMENT)
    assert push.locale == "pt-BR"
    assert "R$\xa01.234,50" in push.fields["body"]


def test_fallback_chain_pt_br_pt_en_per_field(tmp_path: Path) -> None:
    catalog = tiny(
        tmp_path,
        {
            "en": "s: {a: A en, b: B en, c: C en}",
            "pt": "s: {a: A pt, b: B pt}",
            "pt-BR": "s: {a: A br}",
        },
    )
    for spelling in ("pt-BR", "pt_BR", "pt-br"):
        rendered = catalog.render("note", 0, spelling, {})
        assert rendered.fields == {"a": "A br", "b": "B pt", "c": "C en"}
        assert rendered.locale == "pt-BR"
    assert catalog.render("note", 0, "pt-PT", {}).fields == {"a": "A pt", "b": "B pt", "c": "C en"}
    for unknown in ("fr", "", "not a locale!", "xx-YY"):
        assert catalog.render("note", 0, unknown, {}).locale == "en"
    assert catalog.fallback_chain("pt-BR") == ("pt-BR", "pt", "en")
    assert catalog.best_locale("pt-AO") == "pt"
    assert catalog.missing_translations() == {"pt": ["s.c"], "pt-BR": ["s.b", "s.c"]}


def test_missing_variable_raises_render_error() -> None:
    catalog = load_catalog(EXAMPLE)
    context = {**PAYMENT, "event": {"amount": 5, "currency": "USD"}}
    with pytest.raises(RenderError) as raised:
        catalog.render("payment_failed", 0, "pt-BR", context)
    error = raised.value
    assert (error.message, error.locale, error.key) == (
        "payment_failed",
        "pt-BR",
        "payment_failed.alert.body",
    )
    assert "show_title" in str(error) and "payment_failed" in str(error)


def test_unknown_message_or_step_raises_render_error() -> None:
    catalog = load_catalog(EXAMPLE)
    with pytest.raises(RenderError, match="no such message"):
        catalog.render("nope", 0, "en", PAYMENT)
    with pytest.raises(RenderError, match="no channel step 9"):
        catalog.render("payment_failed", 9, "en", PAYMENT)


def test_helper_errors_become_render_errors(tmp_path: Path) -> None:
    strings = "s: {a: '{{ format_number(event.n) }}', b: x, c: y}"
    catalog = tiny(tmp_path, {"en": strings})
    with pytest.raises(RenderError, match=r"s\.a"):
        catalog.render("note", 0, "en", {"event": {"n": "lots"}})


def test_sandbox_blocks_unsafe_access(tmp_path: Path) -> None:
    strings = "s: {a: '{{ event.items.__globals__ }}', b: x, c: y}"
    catalog = tiny(tmp_path, {"en": strings})
    with pytest.raises(RenderError):
        catalog.render("note", 0, "en", {"event": {}})


def test_number_formatting_follows_the_reader(tmp_path: Path) -> None:
    strings = (
        "s: {a: '{{ format_number(event.n) }}',"
        " b: '{{ format_decimal(event.n, \"#,##0.00\") }}',"
        " c: '{{ format_percent(0.25) }}'}"
    )
    pt = "s: {a: '{{ format_number(event.n) }}'}"
    catalog = tiny(tmp_path, {"en": strings, "pt": pt})
    context = {"event": {"n": 1234.5}}
    assert catalog.render("note", 0, "en", context).fields == {
        "a": "1,234.5",
        "b": "1,234.50",
        "c": "25%",
    }
    brazil = catalog.render("note", 0, "pt-BR", context).fields
    assert brazil["a"] == "1.234,5"  # pt copy, formatted as a pt-BR reader expects
    assert brazil["b"] == "1,234.50"  # en copy is formatted in English
    assert catalog.render("note", 0, "de", context).fields["a"] == "1,234.5"


def test_currency_and_dates() -> None:
    en, br = helpers(Locale.parse("en")), helpers(Locale.parse("pt_BR"))
    assert en["format_currency"]("9.99", "USD") == "$9.99"
    assert br["format_currency"](9.99, "BRL") == "R$\xa09,99"
    moment = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    assert en["format_date"]("2024-05-01") == "May 1, 2024"
    assert br["format_date"](moment, format="short") == "01/05/2024"
    assert br["format_datetime"]("2024-05-01T23:30:00Z", "short", tz="America/Sao_Paulo") == (
        "01/05/2024 20:30"
    )
    assert en["format_datetime"](moment, "short") == "5/1/24, 11:30\u202fPM"


def test_helper_names_match_what_templates_may_use() -> None:
    assert tuple(helpers(Locale("en"))) == NAMES


def test_constant_strings_match_jinja_output(tmp_path: Path) -> None:
    strings = 's: {a: "line\\n", b: "{{ \'line\' }}\\n", c: plain}'
    rendered = tiny(tmp_path, {"en": strings}).render("note", 0, "en", {})
    assert rendered.fields["a"] == rendered.fields["b"] == "line"


def test_templates_cannot_change_the_shared_context(tmp_path: Path) -> None:
    strings = "s: {a: '{{ event.update(n=2) }}', b: '{{ event.n }}', c: y}"
    catalog = tiny(tmp_path, {"en": strings})
    event = {"n": 1}
    with pytest.raises(RenderError):
        catalog.render("note", 0, "en", {"event": event})
    assert event == {"n": 1}
