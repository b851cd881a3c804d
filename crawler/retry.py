"""Retries that wait: exponential backoff with full jitter, and `Retry-After` honoured on 429 and 503.

Scrapy's RetryMiddleware decides whether to retry and how often (RETRY_TIMES, RETRY_HTTP_CODES,
RETRY_EXCEPTIONS, its `retry/count`, `retry/reason_count/...` and `retry/max_reached` stats); this
subclass, in its place, decides when. Before retry n it waits a random time in
[0, min(NEWS_RETRY_MAX_DELAY, NEWS_RETRY_BACKOFF * 2**(n-1))) ("full jitter": clients that failed
together do not come back together). A 429 or 503 with `Retry-After` (seconds or an HTTP-date)
waits at least that long, and pauses the whole download slot (the host) meanwhile: the server
asked the client, not one URL, to slow down. A Retry-After longer than NEWS_RETRY_MAX_DELAY is not
waited for in this run: the response goes on as a failure, and the next run retries the URL.
A 200 that is empty or cut off (`crawler.guards.PageCheckMiddleware`) is retried like a 5xx.

The wait is a timer on the event loop (never time.sleep): other requests go on meanwhile.
Stats: `retry/backoff` (retries that waited), `retry/backoff_seconds` (their total wait),
`retry/retry_after` (waits set by a Retry-After), `retry/retry_after/too_long`.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet.task import deferLater

from crawler.failures import RETRYABLE_PROBLEMS

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)  # RFC 9110 10.2.3 and RFC 6585 4


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP-date (a date in the past
    is 0); None when absent or unreadable."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC without saying so
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt - 1))) for the `attempt`-th retry."""
    return (rng or random).uniform(0.0, min(cap, base * 2 ** max(0, attempt - 1)))


async def sleep(seconds: float) -> None:
    from twisted.internet import reactor

    await maybe_deferred_to_future(deferLater(reactor, seconds))


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("NEWS_RETRY_BACKOFF", 1.0)
        self.cap = settings.getfloat("NEWS_RETRY_MAX_DELAY", 60.0)
        self.paused_until: dict[str, float] = {}  # download slot -> monotonic time its pause ends

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False):
            return response
        problem = request.meta.get("page_problem")  # crawler.guards.PageCheckMiddleware
        if problem in RETRYABLE_PROBLEMS:  # an empty or cut-off 200 is a server error in disguise
            retry = self._retry(request, f"{problem} page")
            if retry is None:
                return response
            retry.meta.pop("page_problem", None)
            await self.wait(retry)
            return retry
        if response.status not in self.retry_http_codes:
            return response
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.cap:
                self.crawler.stats.inc_value("retry/retry_after/too_long")
                logger.warning("%s asks to come back in %.0f s (Retry-After), past NEWS_RETRY_MAX_DELAY (%g s): "
                               "left to the next run", request.url, retry_after, self.cap)
                return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if retry_after is not None:
            self.crawler.stats.inc_value("retry/retry_after")
            self.pause_slot(request, retry_after)
        await self.wait(retry, retry_after)
        return retry

    async def process_exception(self, request, exception):
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await self.wait(retry)
        return retry

    async def wait(self, retry, retry_after: float | None = None) -> None:
        delay = backoff_delay(retry.meta.get("retry_times", 1), self.base, self.cap)
        if retry_after is not None:
            delay = max(delay, retry_after)
        stats = self.crawler.stats
        stats.inc_value("retry/backoff")
        stats.inc_value("retry/backoff_seconds", round(delay, 3))
        if delay > 0:
            await sleep(delay)

    def pause_slot(self, request, seconds: float) -> None:
        """No request of the slot (the host) starts before `seconds` have passed. Scrapy's downloader
        holds a slot's queue while `slot.latercall` is pending (it is how it spaces requests by
        DOWNLOAD_DELAY); a longer pending call is a longer pause."""
        downloader = self.crawler.engine.downloader
        resume = getattr(downloader, "_latercall", None)
        key = request.meta.get(downloader.DOWNLOAD_SLOT) or downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        until = time.monotonic() + seconds
        if slot is None or resume is None or until <= self.paused_until.get(key, 0.0):
            return
        self.paused_until[key] = until
        if slot.latercall:
            slot.latercall.cancel()
        slot.latercall = call_later(seconds, resume, slot)
