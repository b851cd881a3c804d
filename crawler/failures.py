"""What went wrong with a fetch, in one word, for the stats and for what the next run does.

`failure_kind(failure)` names why a request's errback was called; every kind but `robots` is
transient as far as a crawler can know (a server error, a page too large today, a redirect loop
or an off-site redirect, a timeout), so the URL stays in the frontier, is retried by the next
runs and given up after NEWS_MAX_ATTEMPTS. Only robots.txt is a decision to respect at once.

`page_problem(response)` names what is wrong with a 200 answer that is not the page: empty, cut
off (markup ends in mid-tag or mid-text with no </html>: a truncated write on the server), a bot
challenge in place of the page. Such a page is not stored, nor its validators (a 304 next time
would hide what it should have shown).
"""

from __future__ import annotations

from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.web._newclient import ResponseFailed

from crawler.extract import _CHALLENGE, _CHALLENGE_HINTS, _may_match

# Bot-check interstitials (Cloudflare and the like, and Vietnamese ones) that answer 200: the same
# phrases extraction refuses a page for (one list, in crawler/extract), with the hints that let most
# pages skip the slow case-insensitive search.
CHALLENGE, CHALLENGE_HINTS = _CHALLENGE, _CHALLENGE_HINTS
CHALLENGE_MAX_BYTES = 64 << 10  # challenge pages are a few KB; a real page may well mention a captcha


def failure_kind(failure) -> str:
    """http | robots | offsite | redirect_loop | too_large | ignored | timeout | data_loss | download."""
    if failure.check(HttpError):
        return "http"
    message = str(failure.value)
    if failure.check(IgnoreRequest):
        if "robots.txt" in message:
            return "robots"
        if message.startswith(("Filtered offsite", "Off-site redirect")):
            return "offsite"
        if "max redirections" in message or message.startswith("Redirect loop"):
            return "redirect_loop"
        if "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware: a body that inflates past the limit
            return "too_large"
        return "ignored"
    if failure.check(DownloadCancelledError) and "max size" in message:  # the handler: larger on the wire
        return "too_large"
    if failure.check(DownloadTimeoutError, TxTimeoutError):
        return "timeout"
    if failure.check(ResponseDataLossError) or (failure.check(ResponseFailed) and "DataLoss" in repr(failure.value)):
        return "data_loss"
    return "download"


def fetched_urls_of(request) -> list[str]:
    """The URLs a failed request went through: the one requested first, and any redirect hops."""
    return list(dict.fromkeys([*request.meta.get("redirect_urls", []), request.url]))


def page_problem(response) -> str:
    """"" for a usable page, else empty | incomplete | challenge (HTML and XML answers only)."""
    if response.status != 200:
        return ""
    body = response.body
    if not body.strip():
        return "empty"
    ctype = response.headers.get("Content-Type", b"").lower()
    if b"html" not in ctype and not body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return ""
    tail = body[-512:].rstrip()
    if b"</html" not in tail.lower() and not tail.endswith(b">"):
        return "incomplete"
    if len(body) < CHALLENGE_MAX_BYTES:
        head = body[:16384].decode("utf-8", "replace")
        if _may_match(head, CHALLENGE_HINTS) and CHALLENGE.search(head):
            return "challenge"
    return ""


RETRYABLE_PROBLEMS = ("empty", "incomplete")  # retried at once; a bot challenge is not (it stays a while)


def declares_entities(xml: bytes) -> bool:
    """Whether an XML document declares entities in its DTD: a billion-laughs bomb or an external
    entity (XXE) in a feed or sitemap. They are never expanded (see spiders/news.py); this counts them."""
    return b"<!ENTITY" in xml[:65536]
