"""Which errors fail over to the next provider: the scope an error carries."""

import pytest

from clarion.channels.base import ErrorScope, PermanentError, TransientError
from clarion.channels.http_status import error_for_status

NOW = 1_700_000_000.0


def test_transient_errors_are_the_providers_and_permanent_ones_the_addresses() -> None:
    assert TransientError("timeout").scope is ErrorScope.PROVIDER
    assert PermanentError("21211").scope is ErrorScope.ADDRESS
    assert PermanentError("20003", scope=ErrorScope.PROVIDER).scope is ErrorScope.PROVIDER
    assert TransientError("30003", scope=ErrorScope.ADDRESS).scope is ErrorScope.ADDRESS
    assert not TransientError("http_503").unconfirmed
    assert TransientError("timeout", unconfirmed=True).unconfirmed


@pytest.mark.parametrize("status", [301, 401, 402, 403, 404, 405, 407, 410])
def test_account_and_endpoint_statuses_fail_over(status: int) -> None:
    error = error_for_status(status, None, NOW)
    assert isinstance(error, PermanentError) and error.scope is ErrorScope.PROVIDER


@pytest.mark.parametrize("status", [400, 409, 413, 415, 422])
def test_statuses_about_the_message_do_not(status: int) -> None:
    error = error_for_status(status, None, NOW)
    assert isinstance(error, PermanentError) and error.scope is ErrorScope.ADDRESS


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_statuses_fail_over_after_the_providers_attempts(status: int) -> None:
    error = error_for_status(status, None, NOW)
    assert isinstance(error, TransientError) and error.scope is ErrorScope.PROVIDER
