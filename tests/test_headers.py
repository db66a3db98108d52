"""Rate-limit headers: Go-style durations, the Retry-After precedence, x-ratelimit-* budgets."""

from __future__ import annotations

import math
import time
from email.utils import formatdate

import httpx2
import pytest

from extractor_tui.core.budget import Budget
from extractor_tui.core.llm.headers import RateLimitInfo, parse_duration, retry_after


@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1.0),
    ("6m0s", 360.0),
    ("1m30.5s", 90.5),
    ("250ms", 0.25),
    ("20ms", 0.02),
    ("1h", 3600.0),
    ("2h45m", 9900.0),
    ("1h0m0.5s", 3600.5),
    ("10us", 1e-5),
    ("5µs", 5e-6),
    ("3ns", 3e-9),
    ("0.5", 0.5),
    ("7", 7.0),
    (" 2s ", 2.0),
    ("0s", 0.0),
    ("-3", 0.0),  # a bare negative number is clamped, never a negative wait
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12, abs=0)


@pytest.mark.parametrize("text", ["junk", "", "   ", "s", "1x", "1s1", "1s 2ms", "-1s",
                                  "1.s", "m1", "1m-3s"])
def test_parse_duration_rejects_junk(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_duration_rejects_non_finite() -> None:
    for text in ("inf", "Infinity", "1e999"):
        value = parse_duration(text)
        assert value is None or math.isfinite(value), text


def test_infinite_reset_header_does_not_crash_the_budget() -> None:
    info = RateLimitInfo.from_headers({"x-ratelimit-limit-requests": "10",
                                       "x-ratelimit-remaining-requests": "0",
                                       "x-ratelimit-reset-requests": "inf"})
    assert info is not None
    budget = Budget(rpm=None, tpm=None, now=0.0)
    budget.take(0.0, 0)
    budget.observe(info, 0.0, (1, 0))
    budget.take(0.0, 0)
    budget.take(0.0, 0)
    assert math.isfinite(budget.ready_at(0.0, 0))


# -- retry_after: the most precise header wins ----------------------------------------------


def test_retry_after_ms_beats_everything() -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "7",
               "x-ratelimit-reset-requests": "20s", "x-ratelimit-reset-tokens": "30s"}
    assert retry_after(headers) == 1.5


def test_retry_after_seconds_beats_reset_headers() -> None:
    assert retry_after({"retry-after": "7", "x-ratelimit-reset-requests": "20s"}) == 7.0


def test_unparsable_retry_after_ms_falls_back_to_retry_after() -> None:
    assert retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0


def test_negative_retry_after_ms_is_zero() -> None:
    assert retry_after({"retry-after-ms": "-20"}) == 0.0


def test_retry_after_takes_go_durations_too() -> None:
    assert retry_after({"retry-after": "1m30s"}) == 90.0


def test_retry_after_http_date_in_the_future() -> None:
    headers = {"retry-after": formatdate(time.time() + 120, usegmt=True),
               "x-ratelimit-reset-requests": "5s"}
    wait = retry_after(headers)
    assert wait is not None and 117.0 <= wait <= 121.0


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_junk_retry_after_falls_back_to_the_largest_reset() -> None:
    headers = {"retry-after": "whenever", "x-ratelimit-reset-requests": "1s",
               "x-ratelimit-reset-tokens": "6m0s"}
    assert retry_after(headers) == 360.0


def test_reset_headers_largest_wins_and_junk_is_ignored() -> None:
    assert retry_after({"x-ratelimit-reset-requests": "2.5s",
                        "x-ratelimit-reset-tokens": "250ms"}) == 2.5
    assert retry_after({"x-ratelimit-reset-requests": "junk",
                        "x-ratelimit-reset-tokens": "250ms"}) == 0.25
    assert retry_after({"x-ratelimit-reset-requests": "junk"}) is None


def test_no_wait_headers_is_none() -> None:
    assert retry_after({}) is None
    assert retry_after({"content-type": "application/json", "x-request-id": "abc"}) is None


# -- header names: lower-case dicts (what dict(httpx headers) gives) and httpx itself -----


def test_lower_case_dict_as_the_engine_passes_it() -> None:
    """The client hands over ``dict(response.headers)``: httpx lower-cases the names."""
    raw = httpx2.Headers({"Retry-After-Ms": "250", "X-RateLimit-Limit-Requests": "10",
                          "X-RateLimit-Remaining-Requests": "3",
                          "X-RateLimit-Reset-Requests": "1s"})
    headers = dict(raw)
    assert set(headers) == {"retry-after-ms", "x-ratelimit-limit-requests",
                            "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"}
    assert retry_after(headers) == 0.25
    assert RateLimitInfo.from_headers(headers) == RateLimitInfo(
        limit_requests=10, remaining_requests=3, reset_requests=1.0)


def test_httpx_headers_are_case_insensitive() -> None:
    raw = httpx2.Headers({"RETRY-AFTER": "4", "X-RateLimit-Reset-Tokens": "6m0s",
                          "x-RATELIMIT-limit-tokens": "40000"})
    assert retry_after(raw) == 4.0
    info = RateLimitInfo.from_headers(raw)
    assert info is not None
    assert (info.limit_tokens, info.reset_tokens) == (40000, 360.0)


def test_title_case_dict_is_read_too() -> None:
    """``_get`` also tries ``name.title()`` (``Retry-After``, ``Retry-After-Ms``)."""
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"Retry-After-Ms": "500"}) == 0.5
    assert retry_after({"X-Ratelimit-Reset-Requests": "2s"}) == 2.0


# -- RateLimitInfo.from_headers --------------------------------------------------------------


def test_from_headers_none_without_rate_limit_headers() -> None:
    assert RateLimitInfo.from_headers({}) is None
    assert RateLimitInfo.from_headers({"content-type": "application/json"}) is None
    # present but unreadable is the same as absent
    assert RateLimitInfo.from_headers({"x-ratelimit-limit-requests": "lots",
                                       "x-ratelimit-reset-requests": ""}) is None


def test_from_headers_reads_all_six() -> None:
    info = RateLimitInfo.from_headers({
        "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000.0", "x-ratelimit-reset-tokens": "1m30.5s"})
    assert info == RateLimitInfo(limit_requests=500, remaining_requests=499,
                                 reset_requests=0.12, limit_tokens=30000,
                                 remaining_tokens=29000, reset_tokens=90.5)


def test_from_headers_partial_and_junk_values() -> None:
    info = RateLimitInfo.from_headers({"x-ratelimit-remaining-requests": "0",
                                       "x-ratelimit-reset-requests": "junk",
                                       "x-ratelimit-limit-tokens": "many"})
    assert info == RateLimitInfo(remaining_requests=0)


def test_from_headers_reads_a_negative_count_as_unknown() -> None:
    # Azure OpenAI answers -1 for a budget it does not report (openai/openai-dotnet#838):
    # read as a count, it was a spent budget that held every request.
    info = RateLimitInfo.from_headers({"x-ratelimit-limit-tokens": "-1",
                                       "x-ratelimit-remaining-tokens": "-1",
                                       "x-ratelimit-reset-tokens": "0",
                                       "x-ratelimit-remaining-requests": "79"})
    assert info == RateLimitInfo(remaining_requests=79, reset_tokens=0.0)
