"""Fault injection for the local mirror: what goes wrong on real newspaper servers, on demand.

    python -m crawler mirror --faults 0.1 --seed 7                # 10% of requests, any kind
    python -m crawler mirror --faults 0.2 --fault-kinds 503,429,reset
    python -m crawler mirror --fault gzip-bomb=1 --fault 503=0.05 # per-kind probabilities

Whether a request is faulted, and how, is a pure function of (seed, request path, attempt number):
`decide()` below. The attempt number is how many times the server has seen that exact request path
(host, path and query), so a retry is a new draw and a whole crawl is reproducible from its seed.

The server (`crawler.mirror`) resolves a request to a `Reply` as usual, asks `decide()` for a kind
among the kinds that `eligible()` allows for that reply, and hands the reply to `apply()`, which
returns the faulty reply (pure, except the lazily generated bodies of `gzip-bomb` and `huge`). The
handler then only follows the reply's instructions: wait, hang, reset, or send `length`/`send` bytes.

robots.txt is never faulted: a crawler must always be able to read it (`eligible()` returns
nothing for it, whatever the rates).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import re
import unicodedata
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from urllib.parse import quote, urlsplit, urlunsplit

# kind -> what the server does. The order is the order of `--help` and of `decide()`'s draws.
KINDS: dict[str, str] = {
    "500": "HTTP 500 Internal Server Error",
    "502": "HTTP 502 Bad Gateway",
    "503": "HTTP 503 Service Unavailable",
    "429": "HTTP 429 Too Many Requests with `Retry-After: N`",
    "slow": "the normal response after a delay (--slow SECONDS)",
    "timeout": "no response: the connection hangs (--hang SECONDS, past a client timeout), then closes",
    "reset": "the connection is aborted (TCP RST) without any response",
    "truncated": "Content-Length of the whole body, only the first half sent, then the connection closes",
    "charset-wrong": "UTF-8 page served as `charset=iso-8859-1` (the page's own <meta> still says utf-8)",
    "charset-missing": "UTF-8 page with no charset anywhere (header or <meta>)",
    "cp1258": "page re-encoded as windows-1258 (combining tone marks), charset declared in header and <meta>",
    "cp1258-undeclared": "page re-encoded as windows-1258 with no charset declared anywhere",
    "gzip-bomb": "`Content-Encoding: gzip` body of ~2 MB that inflates to 2 GiB of zeros",
    "huge": "the page padded to 40 MiB (a hidden block of paragraphs before </body>)",
    "redirect-loop": "302 into an endless two-URL redirect cycle (counted once, when it starts)",
    "redirect-offsite": "302 to a host outside the registry (https://quang-cao.invalid/...)",
    "malformed": "closing tags dropped and the markup cut off in the middle of a tag (HTTP itself is fine)",
    "empty": "200 with an empty body",
    "challenge": 'a Cloudflare-like "Just a moment..." / "Checking your browser" page, served with 200',
    "challenge-vi": 'a Vietnamese "Vui lòng xác minh bạn không phải là robot" page, served with 200',
    "xml-bomb": "sitemap/feed with a billion-laughs entity bomb in its DOCTYPE (well-formed XML)",
    "xxe": 'sitemap/feed with an external entity, SYSTEM "file:///etc/passwd" (well-formed XML)',
    "odd-urls": "links rewritten in odd but equivalent forms and Vietnamese links in NFD, %-encoded, with spaces",
}
STATUS_KINDS = ("500", "502", "503", "429")
# Kinds that can hit any request (also 404s and legacy-domain redirects); the others need a 200 body.
ANY_REPLY = (*STATUS_KINDS, "slow", "timeout", "reset", "redirect-loop", "redirect-offsite")
HTML_ONLY = ("charset-wrong", "charset-missing", "cp1258", "cp1258-undeclared", "malformed", "odd-urls")
XML_ONLY = ("xml-bomb", "xxe")

BOMB_SIZE = 2 << 30  # inflated size of the gzip bomb: 2 GiB (the gzip trailer's ISIZE holds it exactly)
HUGE_SIZE = 40 << 20  # the `huge` page: above the crawler's DOWNLOAD_MAXSIZE (32 MiB)
OFFSITE = "quang-cao.invalid"  # .invalid never resolves (RFC 2606): a redirect there leaves the registry
LOOP_PARAM = "_fault_loop"


@dataclass(frozen=True)
class Rates:
    """How often each kind is injected.

    The unit interval of one request's draw is laid out as: `each` kind's own probability first
    (`--fault KIND=RATE`), then `any` (`--faults RATE`), a share whose kind is drawn uniformly among
    `pool` (`--fault-kinds`, default every kind). Kinds not eligible for a reply take no share, so
    `any` stays the probability that a request is faulted whatever it asks for.
    """

    any: float = 0.0
    pool: tuple[str, ...] = tuple(KINDS)
    each: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        for kind in (*self.pool, *self.each):
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; kinds: {', '.join(KINDS)}")
        for rate in (self.any, *self.each.values()):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"a fault rate is a probability in [0, 1], not {rate}")

    @classmethod
    def only(cls, kind: str, rate: float = 1.0) -> Rates:
        return cls(each={kind: rate})

    def __bool__(self) -> bool:
        return self.any > 0 or any(r > 0 for r in self.each.values())


@dataclass(frozen=True)
class FaultPlan:
    """Everything the server needs to inject faults: the seed, the rates and the knobs of some kinds."""

    seed: int = 0
    rates: Rates = field(default_factory=Rates)
    slow: float = 5.0  # seconds of delay of `slow`
    hang: float = 90.0  # seconds a `timeout` hangs before closing (the crawler's DOWNLOAD_TIMEOUT is 30)
    retry_after: int = 5  # the `Retry-After` of a 429
    bomb_size: int = BOMB_SIZE
    huge_size: int = HUGE_SIZE
    # request path ("/<host><target>") -> the kind injected on every request of it, whatever the draw
    # (a page that always fails, for tests of what the next runs do)
    paths: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rates) or bool(self.paths)

    def describe(self) -> str:
        parts = [f"{k}={r:g}" for k, r in self.rates.each.items()] + [f"{k} on {p}" for p, k in self.paths.items()]
        if self.rates.any:
            pool = "any kind" if set(self.rates.pool) == set(KINDS) else ",".join(self.rates.pool)
            parts.append(f"{self.rates.any:g} of {pool}")
        return f"faults {' + '.join(parts) or 'off'} (seed {self.seed})"


# --- the decision --------------------------------------------------------------------------------


def uniform(seed: int, path: str, attempt: int, salt: str = "") -> float:
    """A number in [0, 1), the same for the same arguments on every machine and Python version."""
    digest = hashlib.sha256(f"{seed}\x00{path}\x00{attempt}\x00{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_robots(path: str) -> bool:
    """`/robots.txt` of any host, as requested from the mirror (`/<host>/robots.txt`) or directly."""
    p = urlsplit(path).path
    return p == "/robots.txt" or (p.count("/") == 2 and p.endswith("/robots.txt"))


def eligible(path: str, status: int, content_type: str, body_size: int) -> tuple[str, ...]:
    """The kinds that make sense for this reply; none for robots.txt."""
    if is_robots(path):
        return ()
    if status != 200 or body_size == 0:
        return ANY_REPLY
    ctype = content_type.lower()
    is_html, is_xml = "html" in ctype, "xml" in ctype
    return tuple(
        k for k in KINDS if (k not in HTML_ONLY or is_html) and (k not in XML_ONLY or is_xml)
    )


def decide(seed: int, path: str, attempt: int, rates: Rates, allowed: Collection[str] = tuple(KINDS)) -> str | None:
    """The fault kind for the `attempt`-th request of `path` (1 for the first), or None.

    Pure and deterministic: one draw in [0, 1) from (seed, path, attempt) walks the layout of `Rates`.
    """
    if not rates or not allowed:
        return None
    u = uniform(seed, path, attempt)
    edge = 0.0
    for kind, rate in rates.each.items():
        if kind in allowed:
            edge += rate
            if u < edge:
                return kind
    pool = [k for k in rates.pool if k in allowed]
    if pool and u < edge + rates.any:
        return pool[int(uniform(seed, path, attempt, "kind") * len(pool))]
    return None


# --- replies -------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP answer, or the instructions for not answering properly.

    `body` is bytes or an iterable of byte chunks (generated lazily); `length` is the declared
    Content-Length (default: the size of `body`, which must then be bytes); `send` stops after that
    many body bytes and closes the connection. `delay` waits before answering; `hang` waits and then
    closes without a response; `reset` aborts the connection without a response.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterable[bytes] = b""
    length: int | None = None
    send: int | None = None
    delay: float = 0.0
    hang: float = 0.0
    reset: bool = False
    fault: str = ""

    @property
    def content_length(self) -> int:
        if self.length is not None:
            return self.length
        assert isinstance(self.body, bytes), "a streamed body needs an explicit length"
        return len(self.body)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def with_header(self, name: str, value: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


def apply(kind: str, reply: Reply, plan: FaultPlan, host: str, target: str) -> Reply:
    """The faulty version of `reply` (for `https://<host><target>`)."""
    html = "text/html; charset=utf-8"
    ctype = reply.header("Content-Type") or html
    body = reply.body if isinstance(reply.body, bytes) else b""
    # A faulty answer carries no validators of the real page: a later conditional request must not get a 304
    # for bytes the client never received intact.
    validators = ("etag", "last-modified")
    headers = reply.headers if kind == "slow" else [(k, v) for k, v in reply.headers if k.lower() not in validators]
    new = replace(reply, headers=headers, fault=kind)
    reply = new
    if kind in STATUS_KINDS:
        status = int(kind)
        headers = [("Content-Type", html)]
        if status == 429:
            headers.append(("Retry-After", str(plan.retry_after)))
        page = ERROR_PAGE.format(status=status, reason=_REASONS[status]).encode()
        return replace(new, status=status, headers=headers, body=page, length=None)
    if kind == "slow":
        return replace(new, delay=plan.slow)
    if kind == "timeout":
        return replace(new, hang=plan.hang)
    if kind == "reset":
        return replace(new, reset=True)
    if kind == "truncated":
        return replace(new, length=len(body), send=len(body) // 2)
    if kind == "charset-wrong":
        return replace(new, headers=reply.with_header("Content-Type", "text/html; charset=iso-8859-1"))
    if kind == "charset-missing":
        return replace(new, headers=reply.with_header("Content-Type", "text/html"), body=set_charset(body, None))
    if kind in ("cp1258", "cp1258-undeclared"):
        label = "windows-1258" if kind == "cp1258" else None
        text = set_charset(body, label).decode("utf-8", "replace")
        header = f"text/html; charset={label}" if label else "text/html"
        return replace(new, headers=reply.with_header("Content-Type", header), body=to_cp1258(text))
    if kind == "gzip-bomb":
        size, chunks = gzip_bomb(plan.bomb_size)
        headers = [*reply.with_header("Content-Type", ctype), ("Content-Encoding", "gzip")]
        return replace(new, headers=headers, body=chunks, length=size)
    if kind == "huge":
        size, chunks = huge_page(body, plan.huge_size)
        return replace(new, body=chunks, length=size)
    if kind == "redirect-loop":
        return loop_redirect(host, target, 1, fault=kind)
    if kind == "redirect-offsite":
        location = f"https://{OFFSITE}/chuyen-huong?url={quote(f'https://{host}{target}', safe='')}"
        return replace(new, status=302, headers=[("Location", location), ("Content-Type", html)], body=b"")
    if kind == "malformed":
        return replace(new, body=malformed(body))
    if kind == "empty":
        return replace(new, body=b"")
    if kind in ("challenge", "challenge-vi"):
        page = (CHALLENGE if kind == "challenge" else CHALLENGE_VI).format(host=host).encode()
        headers = [("Content-Type", html), ("Cache-Control", "private, no-store")]
        if kind == "challenge":
            headers.append(("Server", "cloudflare"))
        return replace(new, status=200, headers=headers, body=page)
    if kind == "xml-bomb":
        return replace(new, body=xml_with_doctype(body, BILLION_LAUGHS, "&lol9;"))
    if kind == "xxe":
        return replace(new, body=xml_with_doctype(body, XXE, "&xxe;"))
    if kind == "odd-urls":
        return replace(new, body=odd_urls(body, host))
    raise ValueError(f"unknown fault kind {kind!r}")


def loop_redirect(host: str, target: str, step: int, fault: str = "") -> Reply:
    """302 to the same path with `_fault_loop=1` and `=2` in turn: a cycle no number of hops leaves."""
    parts = urlsplit(target)
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith(f"{LOOP_PARAM}="))
    query = "&".join(q for q in (query, f"{LOOP_PARAM}={step}") if q)
    location = f"https://{host}{parts.path}?{query}"
    return Reply(302, [("Location", location), ("Content-Type", "text/html; charset=utf-8")], fault=fault)


def loop_step(target: str) -> int | None:
    """For a request inside a redirect loop, the next step (1 or 2); None otherwise."""
    for param in urlsplit(target).query.split("&"):
        if param in (f"{LOOP_PARAM}=1", f"{LOOP_PARAM}=2"):
            return 3 - int(param[-1])
    return None


_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 429: "Too Many Requests"}
ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
)
CHALLENGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta http-equiv="X-UA-Compatible" content="IE=Edge"><meta name="robots" content="noindex,nofollow">
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body class="no-js"><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">{host}</h1>
<h2 class="h2" id="challenge-running">Checking your browser before accessing {host}.</h2>
<noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div></noscript>
<div id="challenge-body-text" class="core-msg spacer">{host} needs to review the security of your connection
before proceeding.</div>
<form id="challenge-form" action="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1" method="POST">
<input type="hidden" name="md" value="0f1e2d3c4b5a"></form></div></div>
<div class="footer" role="contentinfo"><div class="footer-inner">Ray ID: <code>8a1b2c3d4e5f6071</code>
Performance &amp; security by <a href="https://www.cloudflare.com">Cloudflare</a></div></div>
<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script></body></html>"""
CHALLENGE_VI = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>Xác minh truy cập - {host}</title><meta name="robots" content="noindex,nofollow"></head>
<body><div class="captcha-page"><h1>Vui lòng xác minh bạn không phải là robot</h1>
<p>Hệ thống phát hiện lưu lượng truy cập bất thường từ mạng của bạn. Vui lòng chờ trong giây lát,
trình duyệt của bạn đang được kiểm tra trước khi truy cập {host}.</p>
<form action="/xac-minh" method="post"><div class="g-recaptcha" data-sitekey="6Lc_xacminh"></div>
<button type="submit">Tôi không phải là người máy</button></form>
<p class="note">Nếu trang không tự chuyển, hãy bật JavaScript và cookie rồi tải lại trang.</p>
</div></body></html>"""


# --- body transforms (pure) ----------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta\s+charset\s*=\s*["']?[\w.:-]+["']?\s*/?>""", re.I)
_CTYPE_CHARSET = re.compile(rb"""(<meta[^>]+content\s*=\s*["'][^"']*?)\s*;\s*charset\s*=\s*[\w.:-]+""", re.I)


def set_charset(html: bytes, label: str | None) -> bytes:
    """The page with its <meta> charset declarations changed to `label`, or removed (None)."""
    if label is None:
        return _CTYPE_CHARSET.sub(rb"\1", _META_CHARSET.sub(b"", html))
    html = _META_CHARSET.sub(f'<meta charset="{label}">'.encode(), html)
    return _CTYPE_CHARSET.sub(rb"\1; charset=" + label.encode(), html)


def _cp1258_ok(text: str) -> bool:
    try:
        text.encode("cp1258")
    except UnicodeEncodeError:
        return False
    return True


@cache
def _cp1258_form(ch: str) -> str:
    """One character as windows-1258 writes it: precomposed when the code page has it, else the base
    letter composed with its other marks (â ê ô ă ơ ư) followed by the combining tone mark (grave,
    acute, tilde, hook above, dot below: the five marks the code page has); a numeric character
    reference when neither works. NFD puts a dot below before a circumflex (ộ = o, U+0323, U+0302),
    so the marks are sorted by whether the code page has them, not taken as a prefix."""
    if _cp1258_ok(ch):
        return ch
    letter, *marks = unicodedata.normalize("NFD", ch)
    loose = "".join(m for m in marks if _cp1258_ok(m))
    base = unicodedata.normalize("NFC", letter + "".join(m for m in marks if not _cp1258_ok(m)))
    if len(base) == 1 and _cp1258_ok(base):
        return base + loose
    return f"&#{ord(ch)};"


def to_cp1258(text: str) -> bytes:
    """Text (any normalization form) as windows-1258 bytes; decoding with cp1258 and normalizing
    to NFC gives the NFC text back (characters outside the code page become `&#N;`)."""
    return "".join(map(_cp1258_form, unicodedata.normalize("NFC", text))).encode("cp1258")


_CLOSING = re.compile(rb"</(?:p|div|span|li|ul|td|tr|table|figure|figcaption|article|section|body|html)\s*>", re.I)
_TAG_START = re.compile(rb"<[A-Za-z][A-Za-z0-9]*\s+[^>]{4,}>")


def malformed(html: bytes) -> bytes:
    """Unclosed markup cut off mid-tag: closing tags dropped, then the page ends inside the first
    tag with attributes that starts past two thirds of it (the title and head stay intact)."""
    html = _CLOSING.sub(b"", html)
    m = _TAG_START.search(html, len(html) * 2 // 3) or _TAG_START.search(html)
    if m is None:
        return html[: max(1, len(html) * 2 // 3)]
    return html[: m.start() + (m.end() - m.start()) // 2]


def gzip_bomb(size: int = BOMB_SIZE) -> tuple[int, Iterator[bytes]]:
    """A gzip member of `size` zero bytes (rounded up to MiB), generated lazily: (compressed length,
    chunks). About 1 KB per MiB, so 2 GiB is ~2 MB on the wire; the trailer's ISIZE is `size` mod 2**32."""
    n = max(1, -(-size // _MIB))
    block, final = _deflated_zero_block()
    length = len(_GZIP_HEADER) + n * len(block) + len(final) + 8

    def chunks() -> Iterator[bytes]:
        yield _GZIP_HEADER
        run = block * 64  # 64 KB writes: 32 times fewer than one per block
        for _ in range(n // 64):
            yield run
        for _ in range(n % 64):
            yield block
        yield final + _zeros_crc(n).to_bytes(4, "little") + ((n * _MIB) % 2**32).to_bytes(4, "little")

    return length, chunks()


_MIB = 1 << 20
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0, max compression


@cache
def _deflated_zero_block() -> tuple[bytes, bytes]:
    """One MiB of zeros deflated and full-flushed (the state resets, so the block repeats as is), and
    the empty final block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    block = c.compress(bytes(_MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block, c.flush(zlib.Z_FINISH)


@cache
def _zeros_crc(mib: int) -> int:
    """CRC-32 of `mib` MiB of zeros, by doubling (zlib's crc32_combine): reading 2 GiB of zeros through
    zlib.crc32 takes seconds, long enough for a loaded client to time out before the bomb's trailer."""
    crc, block, span = 0, zlib.crc32(bytes(_MIB)), _MIB  # block: the CRC of `span` bytes of zeros
    while mib:
        if mib & 1:
            crc = _crc32_combine(crc, block, span)
        mib >>= 1
        if mib:
            block, span = _crc32_combine(block, block, span), 2 * span
    return crc


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B) (zlib's crc32_combine, GF(2)):
    crc1 is advanced over len2 zero bytes by squaring the one-zero-bit operator, then xored with crc2."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << i for i in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # the first square: one zero byte
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, m) for m in mat]


_FILLER = (
    "<p>Trang này được độn thêm để thành rất lớn: đoạn văn lặp lại nhiều lần, như những trang "
    "nhúng cả dữ liệu kịch bản hay ảnh mã hoá base64 vào HTML.</p>\n"
).encode()


def huge_page(html: bytes, size: int = HUGE_SIZE) -> tuple[int, Iterator[bytes]]:
    """The page with a hidden block of repeated paragraphs before </body>, to at least `size` bytes,
    generated lazily: (length, chunks)."""
    at = html.lower().rfind(b"</body>")
    head, tail = (html, b"") if at < 0 else (html[:at], html[at:])
    opening, closing = b'<div class="fault-huge" hidden>\n', b"</div>\n"
    chunk = _FILLER * max(1, (64 << 10) // len(_FILLER))
    n = max(1, -(-(size - len(html) - len(opening) - len(closing)) // len(chunk)))
    length = len(head) + len(opening) + n * len(chunk) + len(closing) + len(tail)

    def chunks() -> Iterator[bytes]:
        yield head + opening
        for _ in range(n):
            yield chunk
        yield closing + tail

    return length, chunks()


BILLION_LAUGHS = "\n".join(
    ['<!ENTITY lol "lol">']
    + [f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)]
)
XXE = '<!ENTITY xxe SYSTEM "file:///etc/passwd">'
_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)[^>]*>")
_LEAF = re.compile(r"<(loc|title|link|description)>")


def xml_with_doctype(xml: bytes, entities: str, reference: str) -> bytes:
    """The XML document with an internal DTD subset declaring `entities` before its root element and
    `reference` at the start of the first <loc>/<title>/<link>/<description> (else of the root)."""
    text = xml.decode("utf-8")
    root = _ROOT.search(text)
    if root is None:
        raise ValueError("not an XML document")
    doctype = f"<!DOCTYPE {root.group(1)} [\n{entities}\n]>\n"
    leaf = _LEAF.search(text, root.end())
    at = leaf.end() if leaf else root.end()
    return (text[: root.start()] + doctype + text[root.start() : at] + reference + text[at:]).encode("utf-8")


_HREF = re.compile(rb'href="([^"]*)"')
# Vietnamese tag names, each linked as NFD, %-encoded NFC, %-encoded NFD and with raw spaces.
_ODD_TAGS = ("Đường tỉnh", "Nông thôn mới", "Chuyển đổi số", "Hội nghị")


def odd_urls(html: bytes, host: str) -> bytes:
    """Links as messy listing pages print them.

    Every same-site link is rewritten in a form equal to it after URL normalization (cycling through:
    whitespace and a newline around it, `-` percent-encoded as `%2D`, as `%2d`, unchanged), and a block
    of Vietnamese tag links is added before </body>: raw NFD, percent-encoded NFC, percent-encoded NFD,
    and raw with spaces and an NBSP.
    """
    counter = itertools.count()

    def rewrite(m: re.Match) -> bytes:
        url = m.group(1).decode("utf-8", "replace")
        parts = urlsplit(url)
        if url.startswith("//") or (parts.netloc and parts.hostname != host) or not (parts.path or "").startswith("/"):
            return m.group(0)
        style = next(counter) % 4
        if style == 0:
            url = f"  {url}\n"
        elif style in (1, 2):
            url = urlunsplit(parts._replace(path=parts.path.replace("-", "%2D" if style == 1 else "%2d")))
        return b'href="' + url.encode("utf-8") + b'"'

    html = _HREF.sub(rewrite, html)
    links = []
    for name in _ODD_TAGS:
        slug = name.lower().replace(" ", "-")
        nfd = unicodedata.normalize("NFD", slug)
        for href in (
            f"/tag/{nfd}",
            f"/tag/{quote(unicodedata.normalize('NFC', slug))}",
            f"/tag/{quote(nfd)}",
            f"/tag/{name}.html",
            f"/tag/{name.replace(' ', '%20', 1).replace(' ', chr(0xA0))}",
        ):
            links.append(f'<a href="{href}">{name}</a>')
    block = ('<div class="fault-odd-urls">' + " ".join(links) + "</div>\n").encode("utf-8")
    at = html.lower().rfind(b"</body>")
    return html + block if at < 0 else html[:at] + block + html[at:]


# --- command line --------------------------------------------------------------------------------


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is a probability in [0, 1], not {text}")
    return value


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown fault kind(s) {', '.join(unknown) or text!r}; kinds: {', '.join(KINDS)}")
    return kinds


def _kind_rate(text: str) -> tuple[str, float]:
    kind, sep, rate = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KIND=RATE, not {text!r}")
    return _kinds(kind)[0], _rate(rate)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fault options of `python -m crawler mirror` (and `python -m crawler.mirror`)."""
    g = parser.add_argument_group(
        "fault injection",
        "Off by default. Deterministic per (seed, request path, attempt): the same crawl meets\n"
        "the same faults. robots.txt is never faulted. Every injected fault is logged and counted.",
    )
    g.add_argument("--faults", type=_rate, default=0.0, metavar="RATE",
                   help="probability that a request is faulted, kind drawn uniformly among --fault-kinds")
    g.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fault draws (default 0)")
    g.add_argument("--fault-kinds", type=_kinds, default=tuple(KINDS), metavar="K1,K2",
                   help="the kinds --faults draws from (default: all)")
    g.add_argument("--fault", type=_kind_rate, action="append", default=[], metavar="KIND=RATE",
                   help="a kind's own probability, on top of --faults (repeatable)")
    g.add_argument("--slow", type=float, default=FaultPlan.slow, metavar="SECONDS",
                   help=f"delay of a `slow` fault (default {FaultPlan.slow:g})")
    g.add_argument("--hang", type=float, default=FaultPlan.hang, metavar="SECONDS",
                   help=f"how long a `timeout` fault hangs before closing (default {FaultPlan.hang:g})")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    width = max(map(len, KINDS))
    parser.epilog = "fault kinds:\n" + "\n".join(f"  {k:<{width}}  {d}" for k, d in KINDS.items()) + (
        "\n\nexamples:\n  python -m crawler mirror --faults 0.1 --seed 7\n"
        "  python -m crawler mirror --faults 0.2 --fault-kinds 503,429,reset\n"
        "  python -m crawler mirror --fault gzip-bomb=1 --fault 503=0.05"
    )


def plan_from_args(args: argparse.Namespace) -> FaultPlan:
    rates = Rates(any=args.faults, pool=args.fault_kinds, each=dict(args.fault))
    return FaultPlan(seed=args.seed, rates=rates, slow=args.slow, hang=args.hang)
