"""Locale tags and fallback chains."""

from clarion.catalog.locales import best_locale, fallback_chain, format_locale, normalize

AVAILABLE = frozenset({"en", "pt", "pt-BR", "es"})


def test_normalize_accepts_both_spellings_and_any_case() -> None:
    assert normalize("pt_BR") == normalize("pt-br") == normalize("pt-BR") == "pt-BR"
    assert normalize("EN") == "en"
    assert normalize("zh_hant_tw") == "zh-Hant-TW"


def test_normalize_rejects_what_babel_does_not_know() -> None:
    for bad in ("klingon", "xx", "pt-XX", "", "en us", "12"):
        assert normalize(bad) is None


def test_chain_walks_ancestors_then_siblings_then_default() -> None:
    assert fallback_chain("pt-BR", AVAILABLE, "en") == ("pt-BR", "pt", "en")
    assert fallback_chain("pt_BR", AVAILABLE, "en") == ("pt-BR", "pt", "en")
    assert fallback_chain("pt-PT", AVAILABLE, "en") == ("pt", "pt-BR", "en")
    assert fallback_chain("pt", frozenset({"en", "pt-BR"}), "en") == ("pt-BR", "en")
    assert fallback_chain("es-419", AVAILABLE, "en") == ("es", "en")
    assert fallback_chain("en-GB", AVAILABLE, "en") == ("en",)


def test_unknown_or_garbage_locales_get_the_default() -> None:
    for requested in ("fr", "de-CH", "", "!!", "x" * 100, "xx-YY"):
        assert fallback_chain(requested, AVAILABLE, "en") == ("en",)


def test_likely_subtags_match_more_files() -> None:
    available = frozenset({"en", "zh-Hant"})
    assert fallback_chain("zh-TW", available, "en") == ("zh-Hant", "en")
    assert best_locale("zh_TW", available, "en") == "zh-Hant"


def test_format_locale_keeps_the_reader_only_for_the_same_language() -> None:
    brazil = format_locale("pt-BR", "pt")
    assert (brazil.language, brazil.territory) == ("pt", "BR")
    assert str(format_locale("fr-FR", "en")) == "en"
    assert str(format_locale("garbage!!", "es")) == "es"
