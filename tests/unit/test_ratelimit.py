"""Token buckets: bursts, spacing, pauses and shares, on a hand-driven clock."""

import pytest

from clarion.runtime.ratelimit import RateLimit, RateLimits, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_slots_come_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_second=10, burst=3), clock)
    waits = [bucket.reserve(within=10.0) for _ in range(6)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


def test_a_slot_beyond_the_horizon_is_not_taken() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_second=2, burst=1), clock)
    assert bucket.reserve(within=0.0) == 0.0
    assert bucket.reserve(within=0.1) is None  # the next slot is 0.5 s away
    assert bucket.upcoming(2) == pytest.approx([0.5, 1.0])  # nothing was taken
    assert bucket.reserve(within=1.0) == pytest.approx(0.5)


def test_an_idle_bucket_refills_up_to_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_second=10, burst=2), clock)
    for _ in range(4):
        bucket.reserve(within=10.0)
    clock.now += 60.0
    assert [bucket.reserve(within=0.0) for _ in range(3)] == [0.0, 0.0, None]


def test_upcoming_matches_what_reserve_then_hands_out() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_second=7, burst=4), clock)
    bucket.reserve(within=1.0)
    planned = bucket.upcoming(10)
    assert [bucket.reserve(within=10.0) for _ in range(10)] == pytest.approx(planned)


def test_a_pause_holds_every_slot_until_it_ends() -> None:
    clock = Clock()
    limited = TokenBucket(RateLimit(per_second=100, burst=10), clock)
    unlimited = TokenBucket(None, clock)
    for bucket in (limited, unlimited):
        bucket.pause(2.0)
        assert bucket.paused_for() == pytest.approx(2.0)
        assert bucket.reserve(within=1.0) is None
        assert bucket.reserve(within=5.0) == pytest.approx(2.0)
    clock.now += 3.0
    assert unlimited.paused_for() == 0.0
    assert [unlimited.reserve(within=0.0) for _ in range(50)] == [0.0] * 50


def test_a_shared_limit_gives_each_process_its_part() -> None:
    assert RateLimit(50, 100).share(4) == RateLimit(12.5, 25)
    assert RateLimit(1, 1).share(3) == RateLimit(1 / 3, 1)  # a burst never drops below 1
    limits = RateLimits({"sms": RateLimit(50, 100)}, share=2)
    assert limits.bucket("sms").limit == RateLimit(25, 50)
    assert limits.bucket("sms") is limits.bucket("sms")
    assert limits.bucket("email").limit is None


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(1, burst=0)


def test_sends_are_admitted_only_as_the_sends_before_them_allow() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_second=10, burst=2), clock)
    # Four sleepers woke late together: two go at once, the others are spread out.
    assert [bucket.admit(within=1.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.1, 0.2])
    assert bucket.admit(within=0.1) is None  # 0.3 s away: not taken
    clock.now += 1.0
    bucket.pause(1.0)
    assert bucket.admit(within=0.5) is None
    assert bucket.admit(within=2.0) == pytest.approx(1.0)
    assert TokenBucket(None, clock).admit(within=0.0) == 0.0
