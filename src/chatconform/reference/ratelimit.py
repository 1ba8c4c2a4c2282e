"""Per-key token buckets behind the x-ratelimit-* headers and the 429 answer.

Requests: a bucket of `rpm` requests refilling continuously over a minute; an empty bucket means
429 with Retry-After, but only when the server was given --rate-limit (otherwise the window is
nominal, large, and never enforced). With --rate-limited-api-key the limit applies to that key
alone, so a conformance run can provoke 429 on it while its other requests go through. Tokens:
a bucket charged with each completion's total_tokens, reported in the headers and never enforced.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from chatconform.reference.config import NOMINAL_REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE
from chatconform.reference.errors import APIError

_MAX_KEYS = 10_000


def format_reset(seconds: float) -> str:
    """Go-style durations as OpenAI sends them: `20ms`, `1s`, `8.64s`, `6m0s`, `1h2m3s`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs}s"


class _Bucket:
    def __init__(self, capacity: int, now: float):
        self.capacity = capacity
        self.per_second = capacity / 60.0
        self.level = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.per_second)
        self.updated = now

    def until_full(self) -> float:
        return (self.capacity - self.level) / self.per_second

    def until_one(self) -> float:
        return max(0.0, (1 - self.level) / self.per_second)


class RateLimiter:
    def __init__(self, rpm: int | None, clock: Callable[[], float] = time.monotonic, only_key: str | None = None):
        self.rpm = rpm if rpm is not None else NOMINAL_REQUESTS_PER_MINUTE
        self.clock = clock
        self.only_key = only_key  # None: every key is limited alike
        self.enforced = rpm is not None
        self._keys: OrderedDict[str, tuple[_Bucket, _Bucket]] = OrderedDict()

    def _limit(self, key: str) -> tuple[int, bool]:
        """(requests per minute, enforced) for key."""
        if self.only_key is not None and key != self.only_key:
            return NOMINAL_REQUESTS_PER_MINUTE, False
        return self.rpm, self.enforced

    def _buckets(self, key: str) -> tuple[_Bucket, _Bucket]:
        now = self.clock()
        if key not in self._keys:
            self._keys[key] = (_Bucket(self._limit(key)[0], now), _Bucket(TOKENS_PER_MINUTE, now))
            while len(self._keys) > _MAX_KEYS:
                self._keys.popitem(last=False)  # a forgotten key just starts with a full bucket
        self._keys.move_to_end(key)
        requests, tokens = self._keys[key]
        requests.refill(now)
        tokens.refill(now)
        return requests, tokens

    def acquire(self, key: str) -> None:
        """Count one request for key; raise APIError(429) when its bucket is empty."""
        requests, _ = self._buckets(key)
        if requests.level >= 1:
            requests.level -= 1
        elif self._limit(key)[1]:
            retry = max(1, math.ceil(requests.until_one()))
            raise APIError(429, f"Rate limit reached: {requests.capacity} requests per minute. Retry after {retry}s.",
                           code="rate_limit_exceeded", headers={"Retry-After": str(retry)})

    def charge_tokens(self, key: str, count: int) -> None:
        _, tokens = self._buckets(key)
        tokens.level = max(0.0, tokens.level - count)

    def headers(self, key: str | None) -> dict[str, str]:
        if key is None:  # unauthenticated: report a fresh window, consume nothing
            requests = _Bucket(self.rpm if self.only_key is None else NOMINAL_REQUESTS_PER_MINUTE, 0.0)
            tokens = _Bucket(TOKENS_PER_MINUTE, 0.0)
        else:
            requests, tokens = self._buckets(key)
        return {
            "x-ratelimit-limit-requests": str(requests.capacity),
            "x-ratelimit-limit-tokens": str(tokens.capacity),
            "x-ratelimit-remaining-requests": str(int(requests.level)),
            "x-ratelimit-remaining-tokens": str(int(tokens.level)),
            "x-ratelimit-reset-requests": format_reset(requests.until_full()),
            "x-ratelimit-reset-tokens": format_reset(tokens.until_full()),
        }
