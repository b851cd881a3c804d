import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dates import VN, ParsedDate, in_range, parse_any, parse_iso, parse_rfc822, parse_vietnamese

VIETNAMESE = [
    ("08/01/2026 - 18:21", "2026-01-08T18:21:00+07:00"),
    ("17/06/2025 13:43", "2025-06-17T13:43:00+07:00"),
    ("Thứ Ba, 22/04/2025, 17:46", "2025-04-22T17:46:00+07:00"),
    ("16:53, 13/05/2021", "2021-05-13T16:53:00+07:00"),
    ("Thứ Sáu, 04/10/2024 16:40:00 +07:00", "2024-10-04T16:40:00+07:00"),
    ("Thứ Sáu, 06/12/2024 16:30 [GMT+7]", "2024-12-06T16:30:00+07:00"),
    ("Thứ Sáu, 06/12/2024 16:30 [GMT+9] 01:00", "2024-12-06T16:30:00+07:00"),
    ("Thứ Năm, 24/11/2022 | 17:05", "2022-11-24T17:05:00+07:00"),
    ("Cập nhật lúc 10:15 ngày 05/03/2025", "2025-03-05T10:15:00+07:00"),
    ("Chủ nhật, ngày 9/3/2025 - 07:30", "2025-03-09T07:30:00+07:00"),
    ("Chủ Nhật, ngày 9/3/2025 - 07:30", "2025-03-09T07:30:00+07:00"),
    ("CHỦ NHẬT, 09/03/2025 07:30", "2025-03-09T07:30:00+07:00"),
    ("thứ bảy, 08/03/2025 07:30", "2025-03-08T07:30:00+07:00"),
    ("Thứ Hai, 10/03/2025 lúc 8h05", "2025-03-10T08:05:00+07:00"),
    ("6/12/2024", "2024-12-06"),
    ("24-11-2022 17:05", "2022-11-24T17:05:00+07:00"),
    ("24.11.2022", "2022-11-24"),
    ("2025-06-17 13:43", "2025-06-17T13:43:00+07:00"),
    ("ngày 6 tháng 12 năm 2024", "2024-12-06"),
    ("6 tháng 12, 2024", "2024-12-06"),
    ("09:30 SA 05/03/2025", "2025-03-05T09:30:00+07:00"),
    ("09:30 CH 05/03/2025", "2025-03-05T21:30:00+07:00"),
    ("12:10 SA 05/03/2025", "2025-03-05T00:10:00+07:00"),
    ("12:10 CH 05/03/2025", "2025-03-05T12:10:00+07:00"),
    ("05:30 PM, 05/03/2025", "2025-03-05T17:30:00+07:00"),
    ("05:30 AM, 05/03/2025", "2025-03-05T05:30:00+07:00"),
    ("7:30 sáng 05/03/2025", "2025-03-05T07:30:00+07:00"),
    ("8:00 tối 05/03/2025", "2025-03-05T20:00:00+07:00"),
    ("05/03/2025 10:15 (GMT+7)", "2025-03-05T10:15:00+07:00"),
    ("Thứ Tư, 05/03/2025 10:15 (GMT+7)", "2025-03-05T10:15:00+07:00"),
    ("05/03/2025 10:15 GMT+8", "2025-03-05T09:15:00+07:00"),
    ("05/03/2025 10:15 -05/06", "2025-03-05T10:15:00+07:00"),
    ("\u00a0 Thứ\u00a0Ba,  22/04/2025,\n\t17:46 \u200b", "2025-04-22T17:46:00+07:00"),
    (unicodedata.normalize("NFD", "Thứ Tư, ngày 5 tháng 3 năm 2025"), "2025-03-05"),
    ("29/02/2024 23:59", "2024-02-29T23:59:00+07:00"),
    ("01/01/1990", "1990-01-01"),
    ("31/12/2100 23:59", "2100-12-31T23:59:00+07:00"),
]


@pytest.mark.parametrize(("text", "expected"), VIETNAMESE)
def test_parse_vietnamese(text, expected):
    p = parse_vietnamese(text)
    assert p is not None
    assert p.iso() == expected
    assert p.has_time == ("T" in expected)
    assert p.value.tzinfo is VN


@pytest.mark.parametrize(("text", "expected"), VIETNAMESE)
def test_parse_any_agrees_on_vietnamese(text, expected):
    assert parse_any(text).iso() == expected


ISO = [
    ("2025-06-17T13:43:02+0700", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17T13:43:02+07:00", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17T06:43:02Z", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17t06:43:02z", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17T13:43:02.123456+07:00", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17T13:43:02", "2025-06-17T13:43:02+07:00"),
    ("2025-06-17T13:43", "2025-06-17T13:43:00+07:00"),
    ("2025-06-17 01:43:02 -05:00", "2025-06-17T13:43:02+07:00"),
    ("2025-06-16T23:00:00+00:00", "2025-06-17T06:00:00+07:00"),
    ("2026-01-08", "2026-01-08"),
    ("2026-01-08T00:00:00", "2026-01-08T00:00:00+07:00"),
    (" 2026-01-08 ", "2026-01-08"),
    ("1/28/2026 6:52:01 AM", "2026-01-28T06:52:01+07:00"),
    ("1/28/2026 6:52:01 PM", "2026-01-28T18:52:01+07:00"),
    ("12/28/2026 12:05:00 AM", "2026-12-28T00:05:00+07:00"),
    ("12/28/2026 12:05:00 PM", "2026-12-28T12:05:00+07:00"),
]


@pytest.mark.parametrize(("text", "expected"), ISO)
def test_parse_iso(text, expected):
    p = parse_iso(text)
    assert p is not None
    assert p.iso() == expected
    assert p.value.tzinfo is VN
    assert parse_any(text).iso() == expected


def test_offset_conversion_keeps_instant():
    p = parse_iso("2025-06-17T06:43:02Z")
    assert p.iso() == "2025-06-17T13:43:02+07:00"
    assert p.value == datetime(2025, 6, 17, 6, 43, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "17/06/2025 13:43",
        "28/1/2026 6:52:01 AM",
        "1/28/2026 6:52 AM",
        "2025-13-01",
        "2025-02-30T10:00:00",
        "2025-06-17T25:00:00",
        "1/28/2026 13:52:01 PM",
        "2025-06-17T13:43:02+25:00",
        "Theo TTXVN",
        "",
    ],
)
def test_parse_iso_rejects(text):
    assert parse_iso(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 17 Jun 2025 06:43:02 GMT", "2025-06-17T13:43:02+07:00"),
        ("Tue, 17 Jun 2025 13:43:02 +0700", "2025-06-17T13:43:02+07:00"),
        ("Tue, 17 Jun 2025 13:43:02", "2025-06-17T13:43:02+07:00"),
        ("17 Jun 2025 13:43 +0700", "2025-06-17T13:43:00+07:00"),
    ],
)
def test_parse_rfc822(text, expected):
    p = parse_rfc822(text)
    assert p is not None and p.iso() == expected
    assert parse_any(text).iso() == expected


@pytest.mark.parametrize("text", ["17/06/2025 13:43", "Theo TTXVN", "", "Mon, 99 Jun 2025 10:00:00 +0700"])
def test_parse_rfc822_rejects(text):
    assert parse_rfc822(text) is None


NONE_CASES = [
    "",
    "   ",
    "\u00a0",
    "Theo TTXVN",
    "garbage ###",
    "31/02/2025",
    "31/02/2025 10:00",
    "32/01/2025",
    "15/13/2025",
    "01/01/1989",
    "01/01/2101 10:00",
    "(GMT+7)",
    "Thứ Hai",
    "10:15",
    "05/03/2025 25:10",
    "05/03/2025 10:61",
]


@pytest.mark.parametrize("text", NONE_CASES)
def test_parse_vietnamese_none(text):
    assert parse_vietnamese(text) is None


@pytest.mark.parametrize("text", ["", "   ", "Theo TTXVN", "garbage ###", "31/02/2025", "(GMT+7)"])
def test_parse_any_none(text):
    assert parse_any(text) is None


@pytest.mark.parametrize("parse", [parse_iso, parse_rfc822, parse_vietnamese, parse_any])
def test_none_input(parse):
    # Selectors hand us None when an element is missing.
    assert parse(None) is None


def test_parse_any_dateparser_fallback():
    p = parse_any("5 tháng Ba 2025")
    assert p is not None and p.iso() == "2025-03-05" and not p.has_time
    assert p.value.tzinfo is VN


def test_in_range():
    now = datetime(2025, 6, 17, 12, 0, tzinfo=VN)
    assert in_range(parse_iso("2025-06-17T13:43:02+0700"), now)
    assert in_range(parse_iso("2025-06-19"), now)
    assert not in_range(parse_iso("2025-06-20"), now)
    assert in_range(parse_iso("1990-01-01"), now)
    assert not in_range(ParsedDate(datetime(1989, 12, 31, 23, 59, 59, tzinfo=VN), True), now)
    assert parse_iso("1989-12-31T23:59:59") is None  # the parsers reject what in_range would
    assert in_range(parse_iso("1990-01-01T00:00:00+07:00"), now)
    assert parse_iso("1990-01-01T00:00:00+08:00") is None  # 1989-12-31 23:00 in VN time
    assert in_range(parse_iso("2025-06-17T13:43:02"), datetime(2025, 6, 17, 12, 0))  # naive now = VN
    assert in_range(parse_iso("2020-01-01"))
    assert not in_range(ParsedDate(datetime(2099, 1, 1, tzinfo=VN), False))
    assert parse_iso("2999-01-01") is None


def test_iso_formatting():
    assert (
        ParsedDate(datetime(2025, 6, 17, 13, 43, 2, 999, tzinfo=VN), True).iso()
        == "2025-06-17T13:43:02+07:00"
    )
    assert ParsedDate(datetime(2025, 6, 17, tzinfo=VN), False).iso() == "2025-06-17"


naive_dt = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31, 23, 59))


@given(naive_dt)
def test_roundtrip_dash_format(d):
    p = parse_vietnamese(d.strftime("%d/%m/%Y - %H:%M"))
    assert p is not None and p.has_time
    assert p.value == d.replace(second=0, microsecond=0, tzinfo=VN)
    assert p.value.tzinfo is VN


@given(naive_dt)
def test_roundtrip_weekday_format(d):
    p = parse_vietnamese(d.strftime("Thứ Hai, %d/%m/%Y %H:%M"))
    assert p is not None and p.has_time
    assert p.value == d.replace(second=0, microsecond=0, tzinfo=VN)


@given(naive_dt)
def test_roundtrip_date_only(d):
    p = parse_vietnamese(d.strftime("%d/%m/%Y"))
    assert p is not None and not p.has_time
    assert p.iso() == d.date().isoformat()


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), VN]),
    )
)
def test_roundtrip_iso(d):
    d = d.replace(microsecond=0)
    p = parse_iso(d.isoformat())
    assert p is not None and p.value == d and p.value.tzinfo is VN


ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}(:\d{2})?")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _check_consistent(p):
    if p is None:
        return
    assert p.value.tzinfo is VN
    if p.has_time:
        assert ISO_TIME.fullmatch(p.iso()), p.iso()
    else:
        assert ISO_DATE.fullmatch(p.iso()), p.iso()
        assert (p.value.hour, p.value.minute, p.value.second) == (0, 0, 0)


@settings(deadline=None)  # first call imports dateparser and loads its Vietnamese data
@given(st.text())
def test_parse_any_never_raises(text):
    _check_consistent(parse_any(text))


@settings(deadline=None)
@given(st.text(alphabet="0123456789/-:.,+ TZSACHPMGMTtháng năm ngày[]()", max_size=40))
def test_parsers_never_raise_on_date_like_text(text):
    for parse in (parse_iso, parse_rfc822, parse_vietnamese, parse_any):
        _check_consistent(parse(text))
