"""Budgets: token bucket and sliding window arithmetic, configured RPM/TPM, learned limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor_tui.core.budget import Budget, SlidingWindow, TokenBucket
from extractor_tui.core.llm.headers import RateLimitInfo

MARGIN = 0.03  # budget.py: a learned window is the provider's reset plus this margin
EPS = 1e-9


def max_in_window(times: list[float], window: float) -> int:
    """The most sends in any half-open interval ``[t, t + window)``."""
    ordered = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + window - EPS:
            j += 1
        best = max(best, j - i)
    return best


def send_all(budget: Budget, count: int, start: float = 0.0, tokens: int = 0,
             gaps: list[float] | None = None) -> list[float]:
    """Send ``count`` requests as early as the budget allows; return their send times."""
    now, times = start, []
    for i in range(count):
        if gaps:
            now += gaps[i % len(gaps)]
        ready = budget.ready_at(now, tokens)
        assert ready >= now
        now = ready
        budget.take(now, tokens)
        times.append(now)
    return times


# -- TokenBucket -----------------------------------------------------------------------------


def test_token_bucket_starts_full_and_refills_at_rate() -> None:
    bucket = TokenBucket(rate=2.0, capacity=4.0, now=0.0)
    assert bucket.ready_at(0.0, 4) == 0.0
    bucket.take(0.0, 4)
    assert bucket.ready_at(0.0, 1) == 0.5
    assert bucket.ready_at(0.0, 3) == 1.5
    assert bucket.ready_at(0.25, 1) == 0.5
    assert bucket.ready_at(1.0, 2) == 1.0   # refilled 2 units by t=1
    bucket.take(1.0, 2)
    assert bucket.ready_at(1.0, 1) == 1.5


def test_token_bucket_amount_above_capacity_waits_for_a_full_bucket() -> None:
    bucket = TokenBucket(rate=2.0, capacity=4.0, now=0.0)
    bucket.take(0.0, 4)
    assert bucket.ready_at(0.0, 10) == 2.0  # clamped to the capacity: never waits forever
    bucket.take(2.0, 10)  # takes at most the capacity
    assert bucket.ready_at(2.0, 1) == 2.5


def test_token_bucket_banks_at_most_its_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=4.0, now=0.0)
    bucket.take(0.0, 4)
    assert bucket.ready_at(100.0, 4) == 100.0
    bucket.take(100.0, 4)
    assert bucket.ready_at(100.0, 1) == 100.5


def test_token_bucket_capacity_is_at_least_one() -> None:
    bucket = TokenBucket(rate=0.5, capacity=0.25, now=0.0)
    assert bucket.capacity == 1.0
    bucket.take(0.0, 1)
    assert bucket.ready_at(0.0, 1) == 2.0


# -- SlidingWindow ---------------------------------------------------------------------------


def test_sliding_window_waits_for_the_oldest_send_to_leave() -> None:
    window = SlidingWindow(limit=3, window=2.0)
    for at in (0.0, 0.5, 1.0):
        assert window.ready_at(at, 1) == at
        window.take(at, 1)
    assert window.ready_at(1.0, 1) == 2.0   # the send at 0 leaves at 0 + 2
    assert window.ready_at(1.0, 2) == 2.5   # two must leave: the one at 0.5 at 2.5
    assert window.ready_at(1.0, 9) == 3.0   # clamped to the limit: all three must leave
    assert window.ready_at(2.0, 1) == 2.0   # a send leaves exactly ``window`` after it
    window.take(2.0, 1)
    assert window.ready_at(2.0, 1) == 2.5


def test_sliding_window_counts_units() -> None:
    window = SlidingWindow(limit=100, window=1.0)
    window.take(0.0, 60)
    window.take(0.5, 30)
    assert window.ready_at(0.5, 10) == 0.5
    assert window.ready_at(0.5, 20) == 1.0   # 10 too many: the 60 sent at 0 must leave
    assert window.ready_at(0.5, 80) == 1.5   # 70 too many: both must leave
    assert window.ready_at(1.0, 70) == 1.0


# -- configured RPM / TPM --------------------------------------------------------------------


def test_no_budget_never_waits() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    assert send_all(budget, 1000, tokens=10_000) == [0.0] * 1000


def test_rpm_600_spaces_requests_after_one_second_worth() -> None:
    budget = Budget(rpm=600, tpm=None, now=0.0)
    times = send_all(budget, 30)
    assert times[:10] == [0.0] * 10
    assert times[10:] == pytest.approx([0.1 * k for k in range(1, 21)], abs=1e-9)
    # and at steady state: no more than 10 in any second, plus the initial burst of 10
    assert max_in_window(times[10:], 1.0) == 10


def test_rpm_bucket_refills_while_idle() -> None:
    budget = Budget(rpm=600, tpm=None, now=0.0)
    send_all(budget, 10)
    assert budget.ready_at(0.0, 0) == pytest.approx(0.1)
    assert budget.ready_at(0.35, 0) == 0.35   # 3.5 requests banked by then
    assert send_all(budget, 11, start=5.0)[-1] == pytest.approx(5.1)


def test_tpm_paces_tokens() -> None:
    budget = Budget(rpm=None, tpm=6000, now=0.0)  # 100 tokens a second, 100 banked
    assert budget.ready_at(0.0, 100) == 0.0
    budget.take(0.0, 100)
    assert budget.ready_at(0.0, 50) == 0.5
    assert budget.ready_at(0.0, 500) == 1.0  # bigger than the bucket: waits for a full one


def test_rpm_and_tpm_the_later_wins() -> None:
    budget = Budget(rpm=60, tpm=6000, now=0.0)  # 1 request/s, 100 tokens/s
    budget.take(0.0, 100)
    assert budget.ready_at(0.0, 10) == 1.0      # the request bucket is the slower
    assert budget.ready_at(0.0, 100) == 1.0
    budget2 = Budget(rpm=600, tpm=600, now=0.0)  # 10 requests/s, 10 tokens/s
    budget2.take(0.0, 10)
    assert budget2.ready_at(0.0, 5) == 0.5       # the token bucket is the slower


def test_take_returns_the_send_sequence() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    assert budget.take(0.0, 100) == (1, 100)
    assert budget.take(0.0, 50) == (2, 150)
    assert budget.take(1.0, 0) == (3, 150)


# -- limits learned from x-ratelimit-* headers -----------------------------------------------


def test_learned_limit_counts_what_was_already_sent() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    send_all(budget, 10)
    budget.observe(RateLimitInfo(limit_requests=10, remaining_requests=0, reset_requests=1.0),
                   0.0, (1, 0))
    assert budget.ready_at(0.0, 0) == pytest.approx(1.0 + MARGIN)
    assert budget.ready_at(0.5, 0) == pytest.approx(1.0 + MARGIN)
    assert budget.ready_at(1.0 + MARGIN, 0) == pytest.approx(1.0 + MARGIN)


def test_a_limit_header_paces_at_limit_per_60_from_the_first_answer() -> None:
    # OpenAI's own reading: 1,200 a minute, one used, full again in 50 ms (1/20 s).
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=1200, remaining_requests=1199,
                                 reset_requests=0.05), 0.0, (1, 0))
    times = send_all(budget, 200)
    # half a second's worth at once at most (the first request used one of it), then 20 a
    # second: never more than a second's worth plus that in any second
    assert sum(1 for t in times if t == 0.0) == 9
    assert max_in_window([0.0, *times], 1.0) <= 20 + 10
    assert times[-1] == pytest.approx((200 - 9) / 20, abs=0.06)


def test_a_remaining_read_from_a_one_second_bucket_keeps_the_per_minute_pace() -> None:
    # A quantised limiter: 1,200 a minute held as 20 a second, remaining from that bucket.
    # 1,181 "used" after one request of ours is not our doing: no short window is learned.
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=1200, remaining_requests=19,
                                 reset_requests=0.05), 0.0, (1, 0))
    times = send_all(budget, 200)
    assert max_in_window([0.0, *times], 1.0) <= 20 + 10
    assert times[-1] == pytest.approx((200 - 9) / 20, abs=0.06)


def test_usage_not_ours_keeps_the_per_minute_pace() -> None:
    # 10 a minute, all used after one request of ours, back in 1 s: someone else's usage,
    # or a bucket's reading; either way 10 a minute is all that is known to be safe.
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=10, remaining_requests=0, reset_requests=1.0),
                   0.0, (1, 0))
    times = send_all(budget, 5)  # one every 6 s, from a little after the server's refill
    assert times == pytest.approx([6.0 * n + MARGIN for n in range(1, 6)])


def test_a_short_sliding_window_of_our_own_sends_is_learned_at_once() -> None:
    # 20 per second, one used by our one request, full again in 1 s: not a minute's budget.
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=20, remaining_requests=19,
                                 reset_requests=1.0), 0.0, (1, 0))
    times = send_all(budget, 60)
    assert max_in_window([0.0, *times], 1.0 + MARGIN) <= 20
    assert times[-1] <= 3 * (1.0 + MARGIN) + 0.1  # paced, not starved


def test_a_free_tier_of_3_a_minute_sends_one_every_20_seconds() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=3, remaining_requests=2, reset_requests=60.0),
                   0.0, (1, 0))
    # (our own minute window holds the third one until the first is 60 s + margin old)
    assert send_all(budget, 4) == pytest.approx([20.0, 40.0, 60.0 + MARGIN, 80.0 + MARGIN])


def test_a_later_answer_widens_the_window_and_changes_the_limit() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(RateLimitInfo(limit_requests=4, remaining_requests=0, reset_requests=1.0),
                   0.0, (1, 0))
    budget.observe(RateLimitInfo(limit_requests=8, remaining_requests=0, reset_requests=3.0),
                   0.0, (1, 0))
    times = send_all(budget, 40)
    assert max_in_window([0.0, *times], 3.0 + MARGIN) <= 8
    # a shorter reset later does not shrink the window
    budget.observe(RateLimitInfo(limit_requests=8, remaining_requests=0, reset_requests=0.1),
                   times[-1], (41, 0))
    more = send_all(budget, 40, start=times[-1])
    assert max_in_window([0.0, *times, *more], 3.0 + MARGIN) <= 8


def test_learned_token_limit() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 600)
    budget.take(0.0, 400)
    budget.observe(RateLimitInfo(limit_tokens=1000, remaining_tokens=0, reset_tokens=2.0),
                   0.0, (1, 600))
    assert budget.ready_at(0.0, 100) == pytest.approx(2.0 + MARGIN)
    assert budget.ready_at(0.0, 0) == 0.0  # the request budget is not the token budget
    now, sent = 0.0, [(0.0, 600), (0.0, 400)]
    for _ in range(30):
        now = budget.ready_at(now, 300)
        budget.take(now, 300)
        sent.append((now, 300))
    for start, _ in sent:
        inside = sum(units for at, units in sent if start <= at < start + 2.0 + MARGIN - EPS)
        assert inside <= 1000


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 40),
       reset=st.floats(0.05, 10.0, allow_nan=False),
       data=st.data())
def test_learned_limit_never_exceeded_in_any_window(limit: int, reset: float,
                                                    data: st.DataObject) -> None:
    pre = data.draw(st.integers(1, limit), label="sent before the answer")
    remaining = data.draw(st.integers(0, limit // 2), label="remaining")
    gaps = data.draw(st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.1, 0.5, reset]),
                              min_size=1, max_size=8), label="gaps between attempts")
    budget = Budget(rpm=None, tpm=None, now=0.0)
    before = send_all(budget, pre)
    budget.observe(RateLimitInfo(limit_requests=limit, remaining_requests=remaining,
                                 reset_requests=reset), 0.0, (1, 0))
    after = send_all(budget, 3 * limit + 5, gaps=gaps)
    assert after == sorted(after)
    assert max_in_window(before + after, reset + MARGIN) <= limit


def test_remaining_only_blocks_until_reset_when_used_up() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)  # request 1; its answer says 3 remain until 2 s after it was sent
    budget.observe(RateLimitInfo(remaining_requests=3, reset_requests=2.0), 0.0, (1, 0))
    assert send_all(budget, 3, start=0.5) == [0.5, 0.5, 0.5]
    assert budget.ready_at(0.5, 0) == 2.0
    assert budget.ready_at(1.999, 0) == 2.0
    assert send_all(budget, 5, start=2.0) == [2.0] * 5  # after the reset: no longer held


def test_remaining_only_counts_sends_after_the_answered_request() -> None:
    budget = Budget(rpm=None, tpm=None, now=0.0)
    send_all(budget, 3)  # requests 1, 2, 3 went out before the answer to request 1
    budget.observe(RateLimitInfo(remaining_requests=3, reset_requests=1.0), 0.0, (1, 0))
    assert budget.ready_at(0.1, 0) == 0.1   # 3 - (3 - 1) = 1 left
    budget.take(0.1, 0)
    assert budget.ready_at(0.1, 0) == 1.0


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(4, 3000), remaining_share=st.floats(0.0, 1.0),
       reset=st.floats(0.001, 120.0, allow_nan=False), data=st.data())
def test_the_per_minute_pace_is_never_exceeded(limit: int, remaining_share: float,
                                                reset: float, data: st.DataObject) -> None:
    """Whatever the headers say, once on the per-minute pace: at most the limit in any
    minute, and a second's worth (plus half a second's burst) in any second."""
    gaps = data.draw(st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.05, 0.5, 3.0]),
                              min_size=1, max_size=6), label="gaps")
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.take(0.0, 0)  # two of ours: usage beyond that is someone else's
    remaining = min(limit - 3, int(limit * remaining_share))
    budget.observe(RateLimitInfo(limit_requests=limit, remaining_requests=remaining,
                                 reset_requests=reset), 0.0, (1, 0))
    times = [0.0, 0.0, *send_all(budget, min(3 * limit, 400), gaps=gaps)]
    assert max_in_window(times, 60.0) <= limit
    rate = limit / 60
    assert max_in_window(times, 1.0) <= rate + max(1.0, rate / 2) + 2


def test_remaining_only_tokens() -> None:
    budget = Budget(rpm=None, tpm=None, now=10.0)
    budget.take(10.0, 500)
    budget.observe(RateLimitInfo(remaining_tokens=700, reset_tokens=6.0), 10.0, (1, 500))
    assert budget.ready_at(10.0, 700) == 10.0
    assert budget.ready_at(10.0, 701) == 16.0
    budget.take(10.0, 400)
    assert budget.ready_at(11.0, 300) == 11.0
    assert budget.ready_at(11.0, 301) == 16.0
