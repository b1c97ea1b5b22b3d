from email.utils import formatdate

import pytest

from clarion.channels.base import PermanentError, TransientError
from clarion.channels.http_status import error_for_status, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW - 90, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success(status: int) -> None:
    assert error_for_status(status, None, NOW) is None


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_transient_statuses(status: int) -> None:
    error = error_for_status(status, "3", NOW)
    assert isinstance(error, TransientError)
    assert error.code == f"http_{status}"
    assert error.retry_after == 3.0


@pytest.mark.parametrize("status", [301, 304, 400, 401, 403, 404, 410, 413, 422])
def test_permanent_statuses(status: int) -> None:
    error = error_for_status(status, "3", NOW)
    assert isinstance(error, PermanentError)
    assert error.code == f"http_{status}"
