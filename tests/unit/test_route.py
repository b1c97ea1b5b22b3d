"""Failover rules: which provider each attempt goes to, and what a failure leads to."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.core.route import Decision, Next, Route, after_failure

ROUTE = Route(("primary", "backup", "last"), failover_after=2)


def test_transient_errors_walk_the_route_then_the_last_keeps_the_rest() -> None:
    index, used = 0, []
    for attempt in range(1, 9):
        used.append(ROUTE.providers[index])
        index = _after(index, attempt, transient=True, provider=True).index
    assert used == ["primary", "primary", "backup", "backup", "last", "last", "last", "last"]


def test_a_message_stays_with_the_provider_it_was_last_handed_to() -> None:
    assert ROUTE.index_of(None) == 0
    assert ROUTE.index_of("backup") == 1
    assert ROUTE.index_of("no-longer-configured") == 0


def _after(index: int, attempt: int, transient: bool, provider: bool) -> Decision:
    return after_failure(
        ROUTE, index, attempt, transient=transient, provider_scoped=provider, exhausted=False
    )


def test_an_address_error_never_fails_over() -> None:
    assert _after(0, 1, transient=False, provider=False) == Decision(Next.FAIL, 0)
    assert _after(0, 2, transient=True, provider=False) == Decision(Next.RETRY, 0)


def test_a_provider_rejection_fails_over_at_once_until_none_is_left() -> None:
    assert _after(0, 1, transient=False, provider=True) == Decision(Next.FAILOVER, 1)
    assert _after(2, 5, transient=False, provider=True) == Decision(Next.FAIL, 2)


def test_transient_errors_retry_within_the_budget_then_fail_over() -> None:
    assert _after(0, 1, transient=True, provider=True) == Decision(Next.RETRY, 0)
    assert _after(0, 2, transient=True, provider=True) == Decision(Next.FAILOVER, 1)
    assert _after(2, 7, transient=True, provider=True) == Decision(Next.RETRY, 2)


def test_nothing_follows_once_attempts_are_exhausted() -> None:
    decision = after_failure(ROUTE, 0, 8, transient=True, provider_scoped=True, exhausted=True)
    assert decision.next is Next.FAIL


def test_routes_need_a_provider_and_a_budget() -> None:
    with pytest.raises(ValueError):
        Route(())
    with pytest.raises(ValueError):
        Route(("a",), failover_after=0)


@given(
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
    st.booleans(),
)
def test_failover_only_moves_forward_and_stays_on_the_route(
    length: int, budget: int, attempt: int, transient: bool, provider: bool
) -> None:
    route = Route(tuple(f"p{i}" for i in range(length)), failover_after=budget)
    index = min((attempt - 1) // budget, length - 1)
    decision = after_failure(
        route, index, attempt, transient=transient, provider_scoped=provider, exhausted=False
    )
    assert 0 <= decision.index < length
    if decision.next is Next.FAILOVER:
        assert decision.index > index and provider
    else:
        assert decision.index == index
    if not provider:
        assert decision.next is not Next.FAILOVER
