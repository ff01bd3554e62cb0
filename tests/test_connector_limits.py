"""The pure parts every service connector shares: token bucket, Retry-After, limiter, keys."""

from __future__ import annotations

import asyncio
import email.utils
from pathlib import Path

import pytest

from actors.connectors import (
    ApiSettings,
    Limiter,
    RateLimit,
    RateLimited,
    Redactor,
    Secret,
    TokenBucket,
    load_secret,
    retry_after_seconds,
)


def test_token_bucket_admits_burst_then_rate() -> None:
    """A bucket of capacity b refilled at r tokens/s admits b requests at once, then one every
    1/r seconds (the token bucket's definition: at most b + r*t requests in any t seconds)."""
    bucket = TokenBucket(rate=4.0, capacity=2.0, now=100.0)
    for _ in range(2):
        assert bucket.wait(100.0) == 0.0
        bucket.take(100.0)
    assert bucket.wait(100.0) == pytest.approx(0.25)
    assert bucket.wait(100.1) == pytest.approx(0.15)
    assert bucket.wait(100.25) == 0.0
    bucket.take(100.25)
    assert bucket.wait(110.0) == 0.0 and bucket.tokens == 2.0  # never more than its capacity


def test_unlimited_rate_never_waits() -> None:
    """rate 0 means no rate limit."""
    bucket = TokenBucket(rate=0.0, capacity=1.0, now=0.0)
    for _ in range(100):
        bucket.take(0.0)
    assert bucket.wait(0.0) == 0.0


def test_capacity_defaults_to_one_seconds_worth() -> None:
    """burst 0 is one second's worth of the rate, at least 1."""
    assert RateLimit(rate=10.0).capacity == 10.0
    assert RateLimit(rate=0.5).capacity == 1.0
    assert RateLimit(rate=3.0, burst=7).capacity == 7.0


@pytest.mark.parametrize("value, seconds", [("120", 120.0), (" 0 ", 0.0), ("-1", None),
                                            ("1.5", None), ("soon", None), (None, None)])
def test_retry_after_delay_seconds(value: str | None, seconds: float | None) -> None:
    """RFC 9110 §10.2.3: delay-seconds is a non-negative decimal integer ("Retry-After: 120");
    anything else that is not an HTTP-date is unreadable."""
    assert retry_after_seconds(value, now=0.0) == seconds


def test_retry_after_http_date() -> None:
    """RFC 9110 §10.2.3's example, "Retry-After: Fri, 31 Dec 1999 23:59:59 GMT", is a delay
    from now; a date already past is no delay."""
    when = email.utils.parsedate_to_datetime("Fri, 31 Dec 1999 23:59:59 GMT").timestamp()
    assert retry_after_seconds("Fri, 31 Dec 1999 23:59:59 GMT", now=when - 30) == pytest.approx(30)
    assert retry_after_seconds("Fri, 31 Dec 1999 23:59:59 GMT", now=when + 30) == 0.0


class FakeTime:
    """A clock and a sleep that advances it: the limiter's waits without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_pause_holds_every_request_and_refuses_past_deadline() -> None:
    """A pause holds the next request until it ends; one whose deadline comes first is refused
    at once with RateLimited, which names the pause."""
    time = FakeTime()

    async def run() -> None:
        limiter = Limiter("api", RateLimit(), clock=time.clock, sleep=time.sleep)
        limiter.pause(5.0, "429 with Retry-After 5 s")
        with pytest.raises(RateLimited, match="paused for 5 s more"):
            await limiter.acquire(deadline=time.now + 2.0)
        await limiter.acquire(deadline=time.now + 10.0)
        limiter.release()
        assert time.slept == [5.0] and limiter.pauses == 1 and limiter.refused == 1

    asyncio.run(run())


def test_limiter_spreads_a_burst_at_the_rate() -> None:
    """Three requests at once through 2 requests/s, burst 1: the second waits 0.5 s, the third
    0.5 s more; the concurrency bound is released after each."""
    time = FakeTime()

    async def run() -> list[float]:
        limiter = Limiter("api", RateLimit(rate=2.0, burst=1, concurrency=1), clock=time.clock,
                          sleep=time.sleep)
        admitted = []
        for _ in range(3):
            await limiter.acquire(deadline=None)
            admitted.append(time.now - 1000.0)
            limiter.release()
        return admitted

    assert asyncio.run(run()) == pytest.approx([0.0, 0.5, 1.0])


def test_settings_refuse_two_places_for_a_key_and_bad_budgets() -> None:
    """One place for the key; rate, burst and concurrency are checked, naming the field."""
    with pytest.raises(ValueError, match="api_key_env and api_key_file"):
        ApiSettings(base_url="http://x/", api_key_env="K", api_key_file="/k")
    with pytest.raises(ValueError, match="rate"):
        ApiSettings(base_url="http://x/", rate=-1.0)
    with pytest.raises(ValueError, match="base_url"):
        ApiSettings(base_url="ftp://x/")


def test_secrets_load_and_hide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key from a variable or a file shows as Secret(***); the redactor masks it in any text;
    a missing variable or file is an error naming it, never a value."""
    monkeypatch.setenv("MY_KEY", "abc-123-secret")
    secret = load_secret("resources.api", "MY_KEY", None)
    assert isinstance(secret, Secret) and secret.value == "abc-123-secret"
    assert "abc" not in repr(secret) and "abc" not in str(secret)
    (tmp_path / "key").write_text("  filed-secret\n")
    filed = load_secret("x", None, str(tmp_path / "key"))
    assert filed is not None and filed.value == "filed-secret"
    redactor = Redactor()
    redactor.add(secret)
    redactor.add(filed)
    assert redactor.clean("Bearer abc-123-secret and filed-secret") == "Bearer *** and ***"
    with pytest.raises(ValueError, match="'NOT_SET_ANYWHERE' is not set"):
        load_secret("resources.api", "NOT_SET_ANYWHERE", None)
    with pytest.raises(ValueError, match="cannot read"):
        load_secret("resources.api", None, str(tmp_path / "missing"))
    assert load_secret("x", None, None) is None
