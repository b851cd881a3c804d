"""The fault-injecting mirror (crawler/faults.py, crawler/mirror.py): every kind, forced at rate 1.0,
does over real HTTP exactly what it promises; the draws are deterministic; robots.txt is never faulted."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import subprocess
import sys
import time
import unicodedata
import zlib
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.parsers import expat

import pytest

from crawler import faults as F
from crawler.mirror import MirrorServer
from crawler.registry import default_registry

REPO = Path(__file__).resolve().parent.parent
HOST = "baocantho.com.vn"  # a registry host, so that "off-site" has a meaning
GB = 10**9

# Every Vietnamese letter, both cases, with every tone: what windows-1258 must carry.
_BASES = "aăâeêioôơuưy"
_TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
VI_LETTERS = "".join(unicodedata.normalize("NFC", b + t) for b in _BASES for t in _TONES) + "đ"
VI_LETTERS += VI_LETTERS.upper()

ARTICLE_TEXT = (
    "Chiều 24-11, Đoàn công tác tỉnh Điện Biên thăm và làm việc tại tỉnh ta. Thủy lợi, khỏe mạnh, "
    "hòa bình; “ngoặc kép” – gạch nối… Tiếng Việt: " + VI_LETTERS
)
ARTICLE = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>Khai mạc Hội chợ sản phẩm OCOP năm 2026</title></head>
<body><div class="header"><a href="/">Trang chủ</a> <a href="/kinh-te/">Kinh tế</a></div>
<article class="detail"><h1 class="title">Khai mạc Hội chợ sản phẩm OCOP năm 2026</h1>
<div class="content"><p class="sapo">Sáng nay, hội chợ khai mạc tại Cần Thơ.</p>
<p>{ARTICLE_TEXT}</p>
<p>Đoạn thứ hai của bài viết, với <a href="https://{HOST}/tin-khac-a2.html">một liên kết</a> trong bài.</p>
<figure><img src="/anh/1.jpg" alt="Quang cảnh"><figcaption>Quang cảnh buổi khai mạc.</figcaption></figure>
<p><strong>Tin, ảnh: Văn Huỳnh</strong></p></div></article>
<div class="related"><a href="/tin-moi-a3.html">Tin mới</a> <a href="https://example.org/x">ngoài</a></div>
</body></html>
"""
LISTING = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Kinh tế</title></head><body>
<ul><li><a href="/tin-a-a1.html">Tin A</a></li><li><a href="https://{HOST}/tin-khac-a2.html">Tin B</a></li>
<li><a href="/tin-moi-a3.html">Tin C</a></li><li><a href="/kinh-te/?p=2">Trang 2</a></li></ul></body></html>
"""
SITEMAP = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://{HOST}/tin-a-a1.html</loc><lastmod>2026-01-02</lastmod></url>
<url><loc>https://{HOST}/tin-khac-a2.html</loc></url>
</urlset>
"""
RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>
<rss version="2.0"><channel><title>Báo Cần Thơ - Thời sự</title><link>https://{HOST}/</link>
<item><title>Tin A</title><link>https://{HOST}/tin-a-a1.html</link><pubDate>Fri, 02 Jan 2026 08:00:00 +0700</pubDate></item>
</channel></rss>
"""
ROBOTS = "User-agent: *\nDisallow: /tim-kiem\nSitemap: https://baocantho.com.vn/sitemap.xml\n"
HTML_CT, XML_CT = "text/html; charset=utf-8", "application/xml; charset=utf-8"
PAGES = {
    "/tin-a-a1.html": ("tin-a-a1.html", ARTICLE, HTML_CT),
    "/tin-khac-a2.html": ("tin-khac-a2.html", ARTICLE.replace("Khai mạc", "Bế mạc"), HTML_CT),
    "/kinh-te/": ("kinh-te.html", LISTING, HTML_CT),
    "/sitemap.xml": ("sitemap.xml", SITEMAP, XML_CT),
    "/rss/": ("rss.xml", RSS, XML_CT),
    "/robots.txt": ("robots.txt", ROBOTS, "text/plain; charset=utf-8"),
}
ARTICLE_PATH = f"/{HOST}/tin-a-a1.html"


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Path:
    """A small mirror of our own (the shared one is rebuilt by others while tests run)."""
    root = tmp_path_factory.mktemp("faultsites")
    site = root / HOST
    site.mkdir()
    routes = {}
    for target, (name, text, ctype) in PAGES.items():
        (site / name).write_text(text, "utf-8")
        routes[target] = {"file": name, "status": 200, "content_type": ctype}
    (site / "_routes.json").write_text(json.dumps(routes), "utf-8")
    return root


def serve(sites: Path, *, seed: int = 0, **kw) -> MirrorServer:
    rates = kw.pop("rates", None) or F.Rates()
    return MirrorServer(sites, port=0, host_aliases={}, faults=F.FaultPlan(seed=seed, rates=rates, **kw))


def forced(sites: Path, kind: str, **kw) -> MirrorServer:
    return serve(sites, rates=F.Rates.only(kind), **kw)


class Got:
    def __init__(self, resp: http.client.HTTPResponse, body: bytes):
        self.status, self.body = resp.status, body
        self.headers = {k.lower(): v for k, v in resp.getheaders()}


def get(srv: MirrorServer, path: str, timeout: float = 10) -> Got:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return Got(resp, resp.read())
    finally:
        conn.close()


def raw_get(srv: MirrorServer, path: str, timeout: float = 10) -> bytes:
    """Everything the server sends on one connection until it closes it (no HTTP parsing)."""
    with socket.create_connection((srv.host, srv.port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: mirror\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def original(target: str) -> bytes:
    return PAGES[target][1].encode("utf-8")


# --- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors(sites, kind):
    with forced(sites, kind) as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == int(kind)
    assert got.headers["content-type"].startswith("text/html")
    assert kind.encode() in got.body and b"Khai m" not in got.body
    assert srv.fault_counts == Counter({kind: 1})


def test_429_has_retry_after(sites):
    with forced(sites, "429", retry_after=7) as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == 429
    assert got.headers["retry-after"] == "7"
    with forced(sites, "429") as srv:
        assert int(get(srv, ARTICLE_PATH).headers["retry-after"]) >= 1


def test_status_faults_hit_404s_and_redirects_too(sites):
    with forced(sites, "503") as srv:
        assert get(srv, f"/{HOST}/khong-co-trang-nay.html").status == 503
    with serve(sites, rates=F.Rates.only("empty")) as srv:  # a content fault needs a 200 with a body
        assert get(srv, f"/{HOST}/khong-co-trang-nay.html").status == 404
        assert srv.fault_counts == Counter()


# --- time and connection -------------------------------------------------------------------------


def test_slow_answers_after_the_delay(sites):
    with forced(sites, "slow", slow=0.4) as srv:
        start = time.monotonic()
        got = get(srv, ARTICLE_PATH)
        elapsed = time.monotonic() - start
    assert elapsed >= 0.4
    assert got.status == 200 and got.body == original("/tin-a-a1.html")


def test_timeout_hangs_past_the_client_timeout(sites):
    with forced(sites, "timeout", hang=30) as srv:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            get(srv, ARTICLE_PATH, timeout=0.5)
        assert time.monotonic() - start < 5
        assert srv.fault_counts == Counter({"timeout": 1})
    # leaving the context wakes the hanging handler: the server stops at once


def test_reset_aborts_the_connection_without_a_response(sites):
    with forced(sites, "reset") as srv:
        with pytest.raises(ConnectionResetError):  # a TCP RST, not a clean close
            raw_get(srv, ARTICLE_PATH)
        with pytest.raises(ConnectionError):  # what an HTTP client sees
            get(srv, ARTICLE_PATH)
        assert srv.fault_counts == Counter({"reset": 2})


def test_truncated_sends_fewer_bytes_than_content_length(sites):
    with forced(sites, "truncated") as srv:
        raw = raw_get(srv, ARTICLE_PATH)
        head, _, body = raw.partition(b"\r\n\r\n")
        declared = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        assert head.startswith(b"HTTP/1.1 200")
        assert declared == len(original("/tin-a-a1.html"))
        assert 0 < len(body) < declared
        assert original("/tin-a-a1.html").startswith(body)
        with pytest.raises(http.client.IncompleteRead):
            get(srv, ARTICLE_PATH)


# --- charsets ------------------------------------------------------------------------------------


def test_charset_wrong_labels_utf8_bytes_as_latin1(sites):
    with forced(sites, "charset-wrong") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.headers["content-type"] == "text/html; charset=iso-8859-1"
    assert got.body == original("/tin-a-a1.html")


def test_charset_missing_declares_nothing(sites):
    with forced(sites, "charset-missing") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.headers["content-type"] == "text/html"
    assert b"charset" not in got.body.lower()
    assert ARTICLE_TEXT in got.body.decode("utf-8")


@pytest.mark.parametrize("kind", ["cp1258", "cp1258-undeclared"])
def test_windows_1258_page_decodes_to_the_original_nfc_text(sites, kind):
    with forced(sites, kind) as srv:
        got = get(srv, ARTICLE_PATH)
    with pytest.raises(UnicodeDecodeError):
        got.body.decode("utf-8")
    text = got.body.decode("cp1258")
    assert not unicodedata.is_normalized("NFC", text)  # tone marks travel as combining characters
    for mark in "\u0300\u0301\u0303\u0309\u0323":
        assert mark in text
    assert unicodedata.normalize("NFC", text) == F.set_charset(
        original("/tin-a-a1.html"), "windows-1258" if kind == "cp1258" else None
    ).decode("utf-8")
    if kind == "cp1258":
        assert got.headers["content-type"] == "text/html; charset=windows-1258"
        assert b'<meta charset="windows-1258">' in got.body
        assert b"content=\"text/html; charset=windows-1258\"" in got.body
    else:
        assert got.headers["content-type"] == "text/html"
        assert b"charset" not in got.body.lower()


def test_to_cp1258_every_vietnamese_letter():
    for text in (VI_LETTERS, unicodedata.normalize("NFD", VI_LETTERS), ARTICLE_TEXT):
        encoded = F.to_cp1258(text)
        assert unicodedata.normalize("NFC", encoded.decode("cp1258")) == unicodedata.normalize("NFC", text)
    assert F.to_cp1258("á") == b"\xe1"  # precomposed where the code page has it
    assert F.to_cp1258("ế") == b"\xea\xec"  # ê + combining acute
    assert F.to_cp1258("ợ") == b"\xf5\xf2"  # ơ + combining dot below
    assert F.to_cp1258("Ự") == b"\xdd\xf2"  # Ư + combining dot below
    assert F.to_cp1258("a😀") == b"a&#128512;"  # outside the code page: a character reference


# --- sizes ---------------------------------------------------------------------------------------


def test_gzip_bomb_is_small_on_the_wire_and_inflates_past_a_gigabyte(sites):
    with forced(sites, "gzip-bomb") as srv:
        got = get(srv, ARTICLE_PATH)
    body = got.body
    assert got.status == 200 and got.headers["content-encoding"] == "gzip"
    assert int(got.headers["content-length"]) == len(body) < 5 * 2**20
    assert body[:2] == b"\x1f\x8b"
    isize = int.from_bytes(body[-4:], "little")  # the gzip trailer: inflated size mod 2**32
    assert isize == F.BOMB_SIZE % 2**32 and isize > GB
    # Inflate a bounded amount: 64 MiB of zeros out of the first few percent of the stream.
    d, out, consumed, cap = zlib.decompressobj(wbits=31), 0, 0, 64 << 20
    while out < cap:
        piece = body[consumed : consumed + 4096]
        consumed += len(piece)
        data = d.decompress(piece, cap - out)
        assert data.count(0) == len(data)
        out += len(data)
        assert not d.unconsumed_tail or out >= cap
    assert consumed < len(body) / 20  # 64 MiB from under 5% of the bytes: the whole inflates past 1 GB
    assert out * len(body) / consumed > GB


def test_gzip_bomb_generator_is_a_valid_gzip_stream():
    size, chunks = F.gzip_bomb(8 << 20)
    data = b"".join(chunks)
    assert len(data) == size < 16 << 10
    assert gzip.decompress(data) == bytes(8 << 20)  # CRC32 and ISIZE check out
    size, _ = F.gzip_bomb()
    assert size < 5 * 2**20 and F.BOMB_SIZE > GB  # the default: MBs that inflate to GiBs


def test_huge_page_is_tens_of_megabytes(sites):
    with forced(sites, "huge") as srv:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        conn.request("GET", ARTICLE_PATH)
        resp = conn.getresponse()
        declared = int(resp.getheader("Content-Length"))
        first, total, last = resp.read(1 << 16), 0, b""
        total = len(first)
        while chunk := resp.read(1 << 20):
            total, last = total + len(chunk), chunk
        conn.close()
    assert declared == total >= F.HUGE_SIZE >= 10 * 2**20
    page = original("/tin-a-a1.html")
    assert first.startswith(page[: page.index(b"</body>")])
    assert last.endswith(b"</body></html>\n")


# --- redirects -----------------------------------------------------------------------------------


def _follow(location: str) -> str:
    parts = urlsplit(location)
    assert parts.scheme == "https"
    return f"/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def test_redirect_loop_never_ends(sites):
    with forced(sites, "redirect-loop") as srv:
        path, seen = ARTICLE_PATH, []
        for _ in range(25):
            got = get(srv, path)
            assert got.status == 302, (path, got.status)
            seen.append(path)
            path = _follow(got.headers["location"])
        assert srv.fault_counts == Counter({"redirect-loop": 1})  # counted once, when it starts
    assert len(set(seen)) == 3 and set(seen[1:]) == set(seen[-2:])  # A -> B -> C -> B -> C ...
    assert all(urlsplit(p).path == urlsplit(ARTICLE_PATH).path for p in seen)


def test_redirect_offsite_leaves_the_registry(sites):
    with forced(sites, "redirect-offsite") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == 302
    target = urlsplit(got.headers["location"])
    assert target.hostname.endswith(".invalid")
    assert default_registry().for_host(target.hostname) is None


# --- markup --------------------------------------------------------------------------------------


def test_malformed_is_cut_mid_tag_with_a_correct_length(sites):
    with forced(sites, "malformed") as srv:
        got = get(srv, ARTICLE_PATH)
    page = original("/tin-a-a1.html")
    assert got.status == 200 and int(got.headers["content-length"]) == len(got.body)
    assert 0 < len(got.body) < len(page)
    assert b"</html>" not in got.body and b"</p>" not in got.body
    assert got.body.rfind(b"<") > got.body.rfind(b">")  # ends inside a tag
    assert b"<title>Khai m" in got.body  # the head survives


def test_empty_page(sites):
    with forced(sites, "empty") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == 200 and got.body == b"" and got.headers["content-length"] == "0"
    assert got.headers["content-type"] == HTML_CT


def test_cloudflare_like_challenge_with_200(sites):
    with forced(sites, "challenge") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == 200 and got.headers["server"] == "cloudflare"
    assert b"<title>Just a moment...</title>" in got.body and b"Checking your browser" in got.body


def test_vietnamese_challenge_with_200(sites):
    with forced(sites, "challenge-vi") as srv:
        got = get(srv, ARTICLE_PATH)
    assert got.status == 200
    assert "Vui lòng xác minh bạn không phải là robot" in got.body.decode("utf-8")


def test_odd_urls(sites):
    with forced(sites, "odd-urls") as srv:
        got = get(srv, f"/{HOST}/kinh-te/")
        text = got.body.decode("utf-8")
        hrefs = re.findall(r'href="([^"]*)"', text)
        assert any("%2D" in h for h in hrefs) and any("%2d" in h for h in hrefs)
        assert any(h != h.strip() for h in hrefs)  # whitespace and newlines around a URL
        nfd = [h for h in hrefs if not unicodedata.is_normalized("NFC", h)]
        assert nfd  # raw NFD Vietnamese
        assert any(re.search(r"%C4%90|%E1%BB", h) for h in hrefs)  # percent-encoded NFC
        assert any("%CC%" in h for h in hrefs)  # percent-encoded NFD (combining marks)
        assert any(" " in h.strip() for h in hrefs) and any("\u00a0" in h for h in hrefs)
        # The rewritten links are the same pages: the mirror decodes %2D as any server would.
        encoded = [urlsplit(h).path for h in hrefs if "%2d" in h.lower() and unquote(urlsplit(h).path) in PAGES]
        assert encoded
        for path in encoded:
            assert get(srv, f"/{HOST}{path}").body == F.odd_urls(original(unquote(path)), HOST), path


# --- XML -----------------------------------------------------------------------------------------


class Parsed:
    def __init__(self, root: str, entities: dict[str, tuple[str | None, str | None]], references: list[str]):
        self.root, self.entities, self.references = root, entities, references


def parse_xml(data: bytes) -> Parsed:
    """Check that `data` is well-formed XML without expanding or fetching any entity: expat with a
    DefaultHandler passes entity references through instead of expanding them (and never loads
    external ones without an ExternalEntityRefHandler). Raises ExpatError when not well-formed."""
    p = expat.ParserCreate()
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    roots, entities, references = [], {}, []

    def entity(name, _is_param, value, _base, system_id, _public_id, _notation):
        entities[name] = (value, system_id)

    p.StartElementHandler = lambda name, _attrs: roots.append(name)
    p.EntityDeclHandler = entity
    p.DefaultHandler = lambda text: references.append(text) if text.startswith("&") else None
    p.Parse(data, True)
    return Parsed(roots[0], entities, references)


@pytest.mark.parametrize("target", ["/sitemap.xml", "/rss/"])
def test_billion_laughs(sites, target):
    with forced(sites, "xml-bomb") as srv:
        got = get(srv, f"/{HOST}{target}")
    doc = parse_xml(got.body)  # well-formed
    assert doc.root == parse_xml(original(target)).root
    assert doc.entities["lol"] == ("lol", None)
    for i in range(1, 10):
        assert doc.entities[f"lol{i}"] == (f"&lol{i - 1 if i > 1 else ''};" * 10, None)
    assert doc.references == ["&lol9;"]  # 10**9 copies of "lol" once expanded
    assert len(got.body) < 10_000


@pytest.mark.parametrize("target", ["/sitemap.xml", "/rss/"])
def test_external_entity(sites, target):
    with forced(sites, "xxe") as srv:
        got = get(srv, f"/{HOST}{target}")
    doc = parse_xml(got.body)
    assert doc.root == parse_xml(original(target)).root
    assert doc.entities == {"xxe": (None, "file:///etc/passwd")}
    assert doc.references == ["&xxe;"]
    assert b"root:" not in got.body


def test_xml_kinds_leave_html_alone_and_html_kinds_leave_xml_alone(sites):
    with serve(sites, rates=F.Rates(each={"xxe": 1.0, "xml-bomb": 1.0})) as srv:
        assert get(srv, ARTICLE_PATH).body == original("/tin-a-a1.html")
    with serve(sites, rates=F.Rates(each={"cp1258": 1.0, "malformed": 1.0, "odd-urls": 1.0})) as srv:
        assert get(srv, f"/{HOST}/sitemap.xml").body == original("/sitemap.xml")
        assert srv.fault_counts == Counter()


def test_a_faulty_body_carries_no_validators_of_the_real_page(sites):
    with serve(sites) as srv:  # faults off: the page's own ETag and Last-Modified
        assert {"etag", "last-modified"} <= set(get(srv, ARTICLE_PATH).headers)
    for kind in ("malformed", "truncated", "cp1258", "empty", "challenge"):
        with forced(sites, kind) as srv:
            raw = raw_get(srv, ARTICLE_PATH).partition(b"\r\n\r\n")[0].lower()
        assert b"etag:" not in raw and b"last-modified:" not in raw, kind
    with forced(sites, "slow", slow=0.01) as srv:  # the real bytes, only late
        assert "etag" in get(srv, ARTICLE_PATH).headers


# --- robots.txt, determinism, counts -------------------------------------------------------------


def test_robots_txt_is_never_faulted(sites):
    assert F.eligible(f"/{HOST}/robots.txt", 200, "text/plain", 10) == ()
    for kind in F.KINDS:
        assert F.decide(1, f"/{HOST}/robots.txt", 1, F.Rates.only(kind), F.eligible(f"/{HOST}/robots.txt", 200, "", 1)) is None
    with serve(sites, rates=F.Rates(any=1.0, each=dict.fromkeys(F.KINDS, 1.0))) as srv:
        for _ in range(30):
            got = get(srv, f"/{HOST}/robots.txt")
            assert got.status == 200 and got.body == original("/robots.txt")
        assert srv.fault_counts == Counter()
    with serve(sites, rates=F.Rates(any=1.0, pool=("503",))) as srv:
        assert get(srv, f"/{HOST}/sitemap.xml").status == 503
        assert get(srv, f"/{HOST}/robots.txt").status == 200
        assert srv.fault_counts == Counter({"503": 1})


def test_decide_is_deterministic_and_honours_the_rate():
    rates = F.Rates(any=0.3)
    draws = [F.decide(7, f"/{HOST}/a-{i}.html", 1, rates) for i in range(3000)]
    assert draws == [F.decide(7, f"/{HOST}/a-{i}.html", 1, rates) for i in range(3000)]
    assert draws != [F.decide(8, f"/{HOST}/a-{i}.html", 1, rates) for i in range(3000)]
    faulted = sum(d is not None for d in draws)
    assert abs(faulted - 900) < 4 * (3000 * 0.3 * 0.7) ** 0.5
    assert set(draws) - {None} == set(F.KINDS)  # every kind can come up
    # Retries are new draws: the same path does not fail forever at a rate below 1.
    assert {F.decide(7, "/h/x.html", n, rates) for n in range(1, 50)} >= {None}
    assert F.decide(7, "/h/x.html", 1, F.Rates()) is None
    assert all(F.decide(s, "/h/x.html", 1, F.Rates(any=1.0)) for s in range(100))


def test_decide_per_kind_rates_and_pool():
    pool = F.Rates(any=1.0, pool=("503", "429", "reset"))
    assert {F.decide(1, f"/p{i}", 1, pool) for i in range(300)} == {"503", "429", "reset"}
    each = F.Rates(each={"503": 0.2, "gzip-bomb": 0.1})
    counts = Counter(F.decide(3, f"/p{i}", 1, each) for i in range(5000))
    assert abs(counts["503"] - 1000) < 130 and abs(counts["gzip-bomb"] - 500) < 100
    assert set(counts) == {None, "503", "gzip-bomb"}
    # a kind not eligible for the reply takes no share
    assert {F.decide(1, f"/p{i}", 1, F.Rates.only("xxe"), ("503",)) for i in range(50)} == {None}
    with pytest.raises(ValueError):
        F.Rates(each={"nope": 0.1})
    with pytest.raises(ValueError):
        F.Rates(any=1.5)


def _session(srv: MirrorServer) -> list[tuple[str, int | str]]:
    """A fixed sequence of requests (with repeats, i.e. retries); what came back for each."""
    out = []
    paths = [f"/{HOST}{t}" for t in PAGES if t != "/robots.txt"]
    for path in paths * 3:
        try:
            got = get(srv, path, timeout=2)
            out.append((path, got.status, len(got.body)))
        except (OSError, http.client.HTTPException) as exc:
            out.append((path, type(exc).__name__, 0))
    return out


def test_same_seed_same_faults_over_http(sites):
    pool = tuple(k for k in F.KINDS if k not in ("slow", "timeout", "huge", "gzip-bomb"))
    rates = F.Rates(any=0.6, pool=pool)
    runs = []
    for seed in (11, 11, 12):
        with serve(sites, seed=seed, rates=rates) as srv:
            runs.append((_session(srv), Counter(srv.fault_counts)))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    session, counts = runs[0]
    assert 0 < sum(counts.values()) <= len(session)
    # every request that did not come back as the plain page was a counted fault
    plain = {f"/{HOST}{t}": len(original(t)) for t in PAGES}
    odd = [r for r in session if not (r[1] == 200 and r[2] == plain[r[0]])]
    assert len(odd) <= sum(counts.values())


def test_fault_counts_match_what_the_client_saw(sites):
    with serve(sites, seed=3, rates=F.Rates(any=0.5, pool=("500", "502", "503", "429"))) as srv:
        statuses = Counter(get(srv, f"/{HOST}/tin-a-a1.html").status for _ in range(200))
        counts = Counter(srv.fault_counts)
    assert sum(counts.values()) == 200 - statuses[200]
    assert counts == Counter({k: statuses[int(k)] for k in ("500", "502", "503", "429") if statuses[int(k)]})
    assert 60 < statuses[200] < 140


def test_faults_on_the_real_mirror_pages():
    """Every content transform also works on the replica pages of each template."""
    sites = REPO / "mirror" / "sites"
    hosts = sorted(p.name for p in sites.iterdir() if (p / "_routes.json").is_file())
    assert hosts
    for host in hosts:
        routes = json.loads((sites / host / "_routes.json").read_text("utf-8"))
        for target, route in routes.items():
            if target == "/robots.txt" or not (sites / host / route["file"]).is_file():
                continue
            reply = F.Reply(200, [("Content-Type", route["content_type"])], (sites / host / route["file"]).read_bytes())
            for kind in F.eligible(f"/{host}{target}", 200, route["content_type"], len(reply.body)):
                if kind in ("gzip-bomb", "huge"):
                    continue
                out = F.apply(kind, reply, F.FaultPlan(), host, target)
                assert out.fault == kind
                if kind in ("xml-bomb", "xxe"):
                    assert parse_xml(out.body).references
                if kind in ("cp1258", "cp1258-undeclared"):
                    assert unicodedata.normalize("NFC", out.body.decode("cp1258")) == unicodedata.normalize(
                        "NFC", F.set_charset(reply.body, "windows-1258" if kind == "cp1258" else None).decode()
                    )


# --- command line --------------------------------------------------------------------------------


def test_cli_help_documents_the_fault_options():
    proc = subprocess.run([sys.executable, "-m", "crawler", "mirror", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for word in ("--faults RATE", "--seed N", "--fault KIND=RATE", "--fault-kinds", "robots.txt", *F.KINDS):
        assert word in proc.stdout, word


def test_cli_serves_faults(sites):
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "mirror", "--root", str(sites), "--port", "0", "--seed", "5",
         "--fault", "503=1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = None
        for line in proc.stdout:
            if m := re.match(r"mirror: (http://[\d.]+:\d+)/", line):
                url = m.group(1)
                break
        assert url, proc.stderr.read() if proc.poll() is not None else "no url line"
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", ARTICLE_PATH)
        assert conn.getresponse().status == 503
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/{HOST}/robots.txt")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "crawler", "mirror", "--fault", "nope=1"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown fault kind" in bad.stderr
