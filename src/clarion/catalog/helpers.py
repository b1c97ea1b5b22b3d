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
from typing import Final

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


@lru_cache(maxsize=256)
def helpers(locale: Locale) -> Mapping[str, Callable[..., str]]:
    """The template helpers, formatting in ``locale``."""

    def format_number(value: object) -> str:
        return numbers.format_decimal(_number(value), locale=locale)

    def format_decimal(value: object, format: str | None = None) -> str:
        return numbers.format_decimal(_number(value), format=format, locale=locale)

    def format_percent(value: object) -> str:
        return numbers.format_percent(_number(value), locale=locale)

    def format_currency(amount: object, currency: str) -> str:
        return numbers.format_currency(_number(amount), currency, locale=locale)

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
