"""Babel-backed formatting helpers that templates call, bound to one locale.

``{{ format_currency(event.amount, event.currency) }}`` gives ``$9.99`` in ``en``
and ``R$ 9,99`` in ``pt-BR``. Numbers may arrive as JSON numbers or numeric
strings; dates as ``datetime``/``date`` values or ISO-8601 strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final, cast

from babel import Locale, dates, numbers

from clarion.core.timing import zone

Number = int | float | Decimal
#: The names templates can call.
NAMES: Final = (
    "format_number",
    "format_decimal",
    "format_percent",
    "format_currency",
    "format_date",
    "format_datetime",
)


def _number(value: object) -> Number:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip())  # exact: "9.99" must not become 9.9899...
        except InvalidOperation:
            pass
    raise TypeError(f"expected a number, got {value!r}")


def _moment(value: object) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise TypeError(f"expected a date or an ISO-8601 string, got {value!r}")


#: Formatted numbers kept per locale and helper. Event payloads repeat the same
#: amounts (plan prices) over and over, and Babel takes ~35 us per currency.
_MEMO_SIZE: Final = 1024


def _memo(format: Callable[[Number, str | None], str]) -> Callable[[Number, str | None], str]:
    """``format`` with results kept for JSON numbers (int, float).

    Only values that equal no differently formatted value are kept: a
    ``Decimal`` (from a numeric string) may differ from an equal one in its
    exponent, and ``-0.0`` equals ``0.0`` but formats as ``-0``.
    """
    cached = lru_cache(maxsize=_MEMO_SIZE, typed=True)(format)

    def call(value: Number, extra: str | None) -> str:
        if (type(value) is float or type(value) is int) and value:
            return cached(value, extra)
        return format(value, extra)

    return call


@lru_cache(maxsize=256)
def helpers(locale: Locale) -> Mapping[str, Callable[..., str]]:
    """The template helpers, formatting in ``locale``."""
    decimal = _memo(lambda v, f: numbers.format_decimal(v, format=f, locale=locale))
    percent = _memo(lambda v, _: numbers.format_percent(v, locale=locale))
    money = _memo(lambda v, c: numbers.format_currency(v, cast(str, c), locale=locale))

    def format_number(value: object) -> str:
        return decimal(_number(value), None)

    def format_decimal(value: object, format: str | None = None) -> str:
        return decimal(_number(value), format)

    def format_percent(value: object) -> str:
        return percent(_number(value), None)

    def format_currency(amount: object, currency: str) -> str:
        return money(_number(amount), currency)

    def format_date(value: object, format: str = "medium") -> str:
        return dates.format_date(_moment(value), format=format, locale=locale)

    def format_datetime(value: object, format: str = "medium", tz: str | None = None) -> str:
        moment = _moment(value)
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day)
        tzinfo = zone(tz) if tz else None
        return dates.format_datetime(moment, format=format, tzinfo=tzinfo, locale=locale)

    return {
        "format_number": format_number,
        "format_decimal": format_decimal,
        "format_percent": format_percent,
        "format_currency": format_currency,
        "format_date": format_date,
        "format_datetime": format_datetime,
    }
