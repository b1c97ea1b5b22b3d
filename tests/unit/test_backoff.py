from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.core.backoff import RetryPolicy

policies = st.builds(
    RetryPolicy,
    base=st.floats(min_value=0.0, max_value=1e3),
    cap=st.floats(min_value=0.0, max_value=1e5),
    max_attempts=st.integers(min_value=1, max_value=50),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
attempts = st.integers(min_value=1, max_value=5000)
units = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(policies, attempts, units)
def test_delay_never_exceeds_cap(policy: RetryPolicy, attempt: int, unit: float) -> None:
    assert policy.delay(attempt, unit) <= policy.cap


@given(policies, attempts, units, st.none() | st.floats(min_value=-10.0, max_value=1e6))
def test_delay_is_never_negative(
    policy: RetryPolicy, attempt: int, unit: float, retry_after: float | None
) -> None:
    assert policy.delay(attempt, unit, retry_after) >= 0.0


@given(policies, attempts, units)
def test_delay_is_nondecreasing_in_attempt(policy: RetryPolicy, attempt: int, unit: float) -> None:
    assert policy.delay(attempt, unit) <= policy.delay(attempt + 1, unit)


@given(policies, attempts, units, st.floats(min_value=0.0, max_value=1e6))
def test_retry_after_is_a_floor(
    policy: RetryPolicy, attempt: int, unit: float, retry_after: float
) -> None:
    delay = policy.delay(attempt, unit, retry_after)
    assert delay >= retry_after
    assert delay == max(retry_after, policy.delay(attempt, unit))


@given(policies, attempts, units)
def test_jitter_keeps_delay_within_its_band(policy: RetryPolicy, attempt: int, unit: float) -> None:
    scheduled = replace(policy, jitter=0.0).delay(attempt, unit)
    assert scheduled * (1.0 - policy.jitter) <= policy.delay(attempt, unit) <= scheduled


def test_schedule_doubles_then_caps() -> None:
    policy = RetryPolicy(base=1.0, cap=10.0, jitter=0.0)
    assert [policy.delay(n, 0.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_equal_jitter_scales_between_half_and_whole() -> None:
    policy = RetryPolicy(base=4.0, jitter=0.5)
    assert policy.delay(1, 0.0) == 2.0
    assert policy.delay(1, 0.5) == 3.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert RetryPolicy(cap=60.0, jitter=0.0).delay(10**6, 0.0) == 60.0


def test_exhausted_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in range(1, 5)] == [False, False, True, True]


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().delay(0, 0.5)


@pytest.mark.parametrize(
    "kwargs", [{"base": -1.0}, {"cap": -1.0}, {"max_attempts": 0}, {"jitter": 1.5}]
)
def test_rejects_nonsense_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
