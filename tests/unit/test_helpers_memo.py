"""Formatting helpers keep results for repeated numbers without changing any answer."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale

from clarion.catalog.helpers import helpers


def test_repeated_amounts_format_the_same_every_time() -> None:
    en = helpers(Locale.parse("en"))
    first = [en["format_currency"](15.49, "USD") for _ in range(3)]
    assert first == ["$15.49"] * 3
    assert en["format_currency"](15.49, "EUR") == "€15.49"  # the currency is part of the key


def test_numbers_that_are_equal_but_format_differently_stay_apart() -> None:
    en = helpers(Locale.parse("en"))
    assert en["format_currency"](0.0, "USD") == "$0.00"
    assert en["format_currency"](-0.0, "USD") == "-$0.00"
    assert en["format_currency"](0.0, "USD") == "$0.00"
    assert en["format_number"](1) == "1"
    assert en["format_number"](1.5) == "1.5"
    assert en["format_number"](Decimal("1.50")) == en["format_number"]("1.50")


def test_each_locale_formats_its_own_way() -> None:
    assert helpers(Locale.parse("pt_BR"))["format_currency"](15.49, "BRL") == "R$\xa015,49"
    assert helpers(Locale.parse("en"))["format_currency"](15.49, "BRL") == "R$15.49"
