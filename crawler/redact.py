"""No secret in the logs: passwords in URLs and the values of secret-looking settings are masked.

Scrapy logs every overridden setting when a crawl starts ("Overridden settings: {...}"), so
`-s NEWS_REDIS_URL=redis://:password@host` or a proxy URL with credentials would land in the cron
log file. The mask is applied to every log record of the process, whatever handler writes it
(Scrapy replaces its root handler for each crawler, so a handler filter would not stay): a log
record factory, installed by the `RedactSecrets` extension before Scrapy logs the settings.

    redis://:s3cret@host:6379/0        -> redis://:***@host:6379/0
    http://user:pa55@proxy:3128        -> http://user:***@proxy:3128
    'MAIL_PASS': 'x', 'AWS_SECRET_ACCESS_KEY': 'y'  -> 'MAIL_PASS': '***', ...
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# scheme://user:password@ (the user may be empty, as in redis://:password@host)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+(?=@)")
# 'NAME': 'value' or NAME=value where NAME says it holds a secret
# (settings are upper case: "bypass: x" or "tokens: 5" in a message are no secrets)
_SECRET_NAME = r"[A-Z0-9_]*(?:PASS|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS)[A-Z0-9_]*"
_SECRET_ITEM = re.compile(rf"""(?P<head>['"]?\b{_SECRET_NAME}['"]?\s*(?::|=)\s*)(?P<value>'[^']*'|"[^"]*"|[^'",\s}}]+)""")


def redact(text: str) -> str:
    """`text` with URL passwords and the values of secret-named settings replaced by ***."""
    if "@" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _SECRET_ITEM.sub(lambda m: m["head"] + (m["value"][0] + MASK + m["value"][0] if m["value"][0] in "'\"" else MASK),
                            text)


class _RedactedRecord(logging.LogRecord):
    """A log record whose message (and traceback) are masked as they are formatted."""

    def getMessage(self) -> str:
        if self.exc_info and not self.exc_text:  # formatters read exc_text after the message, if set
            self.exc_text = redact(logging.Formatter().formatException(self.exc_info))
        return redact(super().getMessage())


_installed = False


def install() -> None:
    """Mask every log record created from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if type(record) is logging.LogRecord:
            # Masked when a handler formats it: Scrapy creates a record for every DEBUG line (every page
            # crawled, every item with its whole text), which its handlers mostly drop unformatted.
            record.__class__ = _RedactedRecord
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's to report, not ours
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class RedactSecrets:
    """Extension: installs the mask when the crawler is built, before the settings are logged."""

    @classmethod
    def from_crawler(cls, crawler):
        install()
        return cls()
