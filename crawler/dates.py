"""Turn the date strings of Vietnamese news pages into aware Asia/Ho_Chi_Minh datetimes (sites.md §5.3).

Compiled regexes cover the observed shapes because they run once per page; dateparser is a slow last resort.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_YEAR, MAX_YEAR = 1990, 2100


@dataclass(frozen=True)
class ParsedDate:
    value: datetime  # aware, tz VN
    has_time: bool  # False when the source gave a date only

    def iso(self) -> str:
        if self.has_time:
            return self.value.isoformat(timespec="seconds")
        return self.value.date().isoformat()


# ISO 8601 / RFC 3339 (meta tags, JSON-LD, time@datetime). Fractions are dropped: iso() never shows them.
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"\s?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?)?",
    re.I,
)
# hanoimoi.vn puts US-style "1/28/2026 6:52:01 AM" in article:published_time; month-first only in this shape.
_US_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ([AP])M", re.I)
# Visible text is always day-first; year-first only with a 4-digit leading year.
_DATE_RE = re.compile(
    r"(?<!\d)(?:(?P<d>\d{1,2})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4})"
    r"|(?P<y2>\d{4})(?P<sep2>[/.-])(?P<m2>\d{1,2})(?P=sep2)(?P<d2>\d{1,2})"
    r"|(?P<d3>\d{1,2})\s+tháng\s+(?P<m3>\d{1,2})(?:\s*,?\s*năm\s+|\s*,\s*|\s+)(?P<y3>\d{4}))(?!\d)",
    re.I,
)
# The lookbehind keeps the "07:00" of "+07:00" from being read as the time; the offset lookahead keeps
# "10:15 -05/03/2025" from being read as a -05 offset.
_TIME_RE = re.compile(
    r"(?<![\d:+-])(?P<h>\d{1,2})[:hH](?P<mi>\d{2})(?::(?P<s>\d{2}))?(?!\d)"
    r"(?:\s*(?P<ap>SA|CH|AM|PM|sáng|chiều|tối)\b)?"
    r"(?:\s*\(?\s*(?:GMT|UTC)?\s*(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?(?![\d/.-]))?",
    re.I,
)
_RFC_MONTH_RE = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.I)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _clean(text: str) -> str:
    # Pages mix NFD and NFC Vietnamese, NBSPs and zero-width chars; str.split() eats all Unicode spaces.
    return " ".join(unicodedata.normalize("NFC", text).translate(_INVISIBLE).split())


def _in_years(p: ParsedDate | None) -> ParsedDate | None:
    # News dates only: outside 1990..2100 a "date" is junk, and before 1911 the zone database gives
    # Asia/Ho_Chi_Minh a local-mean-time offset (+07:06:30) that no ISO round trip survives.
    return p if p is not None and MIN_YEAR <= p.value.year <= MAX_YEAR else None


def _build(y, mo, d, h=None, mi=0, s=0, sign=None, oh=None, om=None) -> ParsedDate | None:
    if not MIN_YEAR <= int(y) <= MAX_YEAR:
        return None
    try:
        if h is None:
            return ParsedDate(datetime(int(y), int(mo), int(d), tzinfo=VN), False)
        off = timedelta(hours=int(oh or 0), minutes=int(om or 0)) * (-1 if sign == "-" else 1)
        dt = datetime(
            int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=timezone(off) if sign else VN
        )
        return _in_years(ParsedDate(dt.astimezone(VN), True))
    except (ValueError, OverflowError):  # 31/02, hour 25, offset >= 24h, astimezone past year 9999
        return None


def parse_iso(text: str) -> ParsedDate | None:
    return _parse_iso(_clean(text or ""))


def _parse_iso(text: str) -> ParsedDate | None:
    if m := _US_RE.fullmatch(text):
        mo, d, y, h, mi, s, ap = m.groups()
        if not 1 <= int(h) <= 12:
            return None
        return _build(y, mo, d, int(h) % 12 + (12 if ap.upper() == "P" else 0), mi, s)
    if m := _ISO_RE.fullmatch(text):
        *ymdhms, z, sign, oh, om = m.groups()
        if z:
            sign, oh = "+", "0"
        return _build(*ymdhms, sign, oh, om)  # no time -> date only; no offset -> naive, taken as VN time
    return None


def parse_rfc822(text: str) -> ParsedDate | None:
    return _parse_rfc822(_clean(text or ""))


def _parse_rfc822(text: str) -> ParsedDate | None:
    # The month-name guard stops email.utils, which is lenient, from claiming day-first Vietnamese text.
    if not _RFC_MONTH_RE.search(text):
        return None
    try:
        dt = parsedate_to_datetime(text)
        if not re.search(r"\d:\d\d", text):
            return _build(dt.year, dt.month, dt.day)
        # Naive (no zone, or "-0000") is taken as site-local VN time, as for ISO.
        return _in_years(ParsedDate(dt.replace(tzinfo=VN) if dt.tzinfo is None else dt.astimezone(VN), True))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_vietnamese(text: str) -> ParsedDate | None:
    return _parse_vietnamese(_clean((text or "").split("[", 1)[0]))  # "[GMT+7]" and similar trailers: nothing


def _parse_vietnamese(text: str) -> ParsedDate | None:
    dm = _DATE_RE.search(text)
    if dm is None:
        return None
    g = dm.groupdict()  # exactly one alternative matched, so the others are None
    y, mo, d = g["y"] or g["y2"] or g["y3"], g["m"] or g["m2"] or g["m3"], g["d"] or g["d2"] or g["d3"]
    if not MIN_YEAR <= int(y) <= MAX_YEAR:
        return None
    tm = _TIME_RE.search(text[: dm.start()] + " " * (dm.end() - dm.start()) + text[dm.end() :])
    if tm is None:
        return _build(y, mo, d)
    h, ap = int(tm["h"]), (tm["ap"] or "").lower()
    if ap in ("ch", "pm", "chiều", "tối") and h < 12:
        h += 12
    elif ap in ("sa", "am", "sáng") and h == 12:
        h = 0
    return _build(y, mo, d, h, tm["mi"], tm["s"], tm["sign"], tm["oh"], tm["om"])


_DATEPARSER_SETTINGS = {
    "DATE_ORDER": "DMY",
    "PREFER_DAY_OF_MONTH": "first",
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "RETURN_TIME_AS_PERIOD": True,  # period "time" tells us the text had a time of day
}


@lru_cache(maxsize=1)
def _date_data_parser():
    from dateparser.date import DateDataParser  # lazy: importing dateparser costs about a second

    return DateDataParser(languages=["vi"], settings=_DATEPARSER_SETTINGS)


def parse_any(text: str) -> ParsedDate | None:
    if not text or not text.strip():
        return None
    # The three fast parsers, on the text cleaned once (the Vietnamese one on what precedes a "[").
    cleaned = _clean(text)
    if (p := _parse_iso(cleaned)) is not None or (p := _parse_rfc822(cleaned)) is not None:
        return p
    if (p := _parse_vietnamese(cleaned if "[" not in text else _clean(text.split("[", 1)[0]))) is not None:
        return p
    if len(text) > 200:  # not a date string; dateparser would be slow and wrong on prose
        return None
    try:
        data = _date_data_parser().get_date_data(cleaned)
        if data.date_obj is None:
            return None
        if not MIN_YEAR <= data.date_obj.year <= MAX_YEAR:
            return None
        dt = data.date_obj.astimezone(VN)  # dateparser hands back a pytz zone
        if data.period != "time":
            return _build(dt.year, dt.month, dt.day)
        return _in_years(ParsedDate(dt.replace(microsecond=0), True))
    except Exception:  # dateparser raises assorted errors on junk; a fallback must never crash a crawl
        return None


def in_range(p: ParsedDate, now: datetime | None = None) -> bool:
    now = now or datetime.now(VN)
    now = now if now.tzinfo else now.replace(tzinfo=VN)  # a naive "now" is VN wall-clock time
    return datetime(MIN_YEAR, 1, 1, tzinfo=VN) <= p.value <= now + timedelta(days=2)
