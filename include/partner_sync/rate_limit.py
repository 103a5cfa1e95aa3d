"""Client-side rate limiting: the one place that paces calls to the three APIs.

Pools cap how many tasks call an API at once; this caps how fast one process calls it, so a
task stays under the vendor's limit instead of discovering it through 429s. Each limiter is a
rolling window ("at most ``limit`` calls in any ``window_s`` seconds"), which is how the
services count, and is shared by all threads of a process (one per name).
"""

from __future__ import annotations

import collections
import threading
import time


class RateLimiter:
    """At most ``limit`` acquisitions in any rolling ``window_s`` seconds (thread-safe)."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._stamps: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a call is allowed; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._stamps and self._stamps[0] <= now - self.window_s:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return waited
                delay = self._stamps[0] + self.window_s - now
            time.sleep(delay)
            waited += delay

    def penalise(self, seconds: float) -> None:
        """After a 429 with ``Retry-After``: hold every caller back for ``seconds``."""
        with self._lock:
            until = time.monotonic() + seconds
            self._stamps.clear()
            # fill the window with stamps that expire when the service allows calls again
            self._stamps.extend([until - self.window_s] * self.limit)


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(name: str, limit: int, window_s: float) -> RateLimiter:
    """The process-wide limiter called ``name`` (created on first use with these figures)."""
    with _limiters_lock:
        if name not in _limiters:
            _limiters[name] = RateLimiter(limit, window_s)
        return _limiters[name]
