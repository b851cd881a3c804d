"""Near-duplicate detection across papers: MinHash signatures of word shingles, LSH bands in SQLite.

Dedupe has three layers. The first two (pipelines/dedupe.py) keep an article from being stored
twice: the canonical URL (legacy domains, tracking parameters: one id) and the exact fingerprint of
the normalized text (`content_hash`); a duplicate of either kind becomes an `aliases` row. This
module is the third layer: articles whose texts are alike but not identical (a TTXVN story carried
by several papers, a re-post with a new title, a cut paragraph and another byline) are all stored,
and linked in a cluster that names one canonical member.

Matching text. The lede and the body (paragraphs and captions), never the title (papers rewrite
titles), the byline, the source line or credit lines inside the body (`Theo TTXVN`, `Ảnh: ...`),
folded by `crawler.normalize.fold_for_matching` (NFC, case folding, one tone-mark convention for
oa/oe/uy syllables, punctuation and whitespace folded). Tokens are the folded words (syllables);
the set of an article is its distinct shingles of `shingle` consecutive tokens, each a 64-bit hash.
Articles with fewer tokens than one shingle are recorded but not indexed.

Similarity. The Jaccard similarity of two articles' shingle sets. MinHash signatures of `num_perm`
values estimate it; they are computed vectorised with numpy and are bit for bit the hash values of
`datasketch.MinHash(num_perm, seed=1, scheme="affine32")` updated with the shingles' 32-bit hashes
(`as_minhash` turns a stored signature into a datasketch `LeanMinHash`). LSH banding (`bands` bands
of `rows` values) finds the candidates: the most rows per band (the fewest chance candidates) such
that a pair exactly at the threshold becomes a candidate with probability >= 0.98 (`lsh_params`).
A candidate whose estimate is within `PREFILTER_MARGIN` of the threshold is then compared exactly,
and the pair is a near-duplicate when the exact Jaccard similarity of the two shingle sets reaches
the threshold (default 0.55, chosen with benchmarks/bench_neardup.py: a re-post with another title,
a cut paragraph and another byline is at 0.8 or more; stories of one kind sharing their stock
paragraphs reach 0.5 there).

Clusters. The connected components of the near-duplicate pairs (a new article joins, or merges,
the clusters of every article it matches), so the clusters do not depend on the order in which
articles arrive, and a rebuild finds those the refreshes found. A chain of articles each alike the
next (a templated daily bulletin) ends in one cluster: a higher threshold breaks such chains.
Each member row keeps `similarity`, the exact Jaccard
similarity with `matched_id`, its most similar earlier member (for the first member: its most
similar later one). The canonical member is the original among the copies:
  1. a member from the paper that the other members credit (`Theo Báo Lào Cai`: the Báo Lào Cai
     member), else
  2. a member that credits no other source, rather than one whose byline or closing line says
     `Theo TTXVN`, `Nguồn: VOV`, `Minh Anh (TTXVN)` (a copy), then
  3. the earliest published (first seen when undated), then the first seen, then the id.

Persistence. Everything lives in the database beside the articles, in tables declared here
(`ensure_schema`): `neardup_meta` (the parameters the index was built with, the permutations
included), `minhash` (one signature per article, with the content_hash it was computed from, so a
changed article is indexed again), `lsh_bands` (one row per article and band: the band's 64-bit
key), `clusters` and `cluster_members`, and the view `near_duplicates` (members with their
articles' paper, date, title and URL). Each refresh indexes its new and changed articles against
the whole corpus through `lsh_bands` (`NearDupIndex.index`, pipelines/neardup.py), without
rebuilding anything; `python -m crawler dedupe --rebuild` recomputes every table from the articles
(`rebuild`), which a change of threshold, shingle size or number of permutations needs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from hashlib import blake2b

import numpy as np

from crawler.normalize import clean_text, fold_for_matching, is_credit_line

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.55
DEFAULT_SHINGLE = 5
DEFAULT_PERM = 128
SEED = 1  # datasketch's default seed: its permutations are the ones used here
SCHEME = "affine32"  # datasketch >= 2.0 permutation scheme (a * h + b mod 2^32, a odd)
RECALL_AT_THRESHOLD = 0.98  # probability that a pair exactly at the threshold is an LSH candidate
PREFILTER_MARGIN = 0.15  # candidates whose MinHash estimate is below threshold - margin are not compared
MAX_BUCKET = 50  # in a rebuild, an article is paired with at most this many earlier ones per band bucket
SCHEMA_VERSION = 1

ICT = timezone(timedelta(hours=7))
_CHUNK_SHINGLES = 1 << 12  # shingles per vectorised signature block (num_perm x this uint32: 2 MB at 128)
_SQL_CHUNK = 500

_U64 = np.uint64
_MUL = _U64(0x9E3779B97F4A7C15)  # odd 64-bit constants for the rolling shingle hash and band keys
_BAND_MUL = _U64(0xD6E8FEB86659FD93)
_FMIX64 = (_U64(33), _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53))
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))

SCHEMA = """
CREATE TABLE IF NOT EXISTS neardup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS minhash (
    doc INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    content_hash TEXT,
    shingles INTEGER NOT NULL,
    signature BLOB,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lsh_bands (
    key INTEGER NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (key, doc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY,
    canonical_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_members (
    article_id TEXT PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters(id),
    is_canonical INTEGER NOT NULL DEFAULT 0,
    similarity REAL,
    matched_id TEXT,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cluster_members_cluster ON cluster_members (cluster_id);
CREATE VIEW IF NOT EXISTS near_duplicates AS
    SELECT m.cluster_id, m.is_canonical, m.similarity, m.matched_id, a.id AS article_id, a.site,
           a.published_at, a.title, a.url
    FROM cluster_members m JOIN articles a ON a.id = m.article_id;
"""
TABLES = ("neardup_meta", "minhash", "lsh_bands", "clusters", "cluster_members")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- parameters ------------------------------------------------------------------------------------

def lsh_params(threshold: float, num_perm: int, recall: float = RECALL_AT_THRESHOLD) -> tuple[int, int]:
    """(bands, rows): the most rows per band (the fewest false candidates) such that a pair whose
    Jaccard similarity equals `threshold` shares a band with probability >= `recall`."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"near-duplicate threshold must be between 0 and 1, not {threshold}")
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def permutations(num_perm: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations (a odd, b) of `datasketch.MinHash(num_perm, seed, scheme="affine32")`,
    drawn the same way (tests/test_neardup.py checks they are equal), without importing datasketch."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@dataclass(frozen=True)
class Params:
    threshold: float = DEFAULT_THRESHOLD
    shingle: int = DEFAULT_SHINGLE
    num_perm: int = DEFAULT_PERM
    bands: int = 0
    rows: int = 0
    seed: int = SEED

    @classmethod
    def make(cls, threshold: float = DEFAULT_THRESHOLD, shingle: int = DEFAULT_SHINGLE,
             num_perm: int = DEFAULT_PERM) -> Params:
        if shingle < 1:
            raise ValueError(f"shingle size must be at least 1, not {shingle}")
        if not 8 <= num_perm <= 1024:
            raise ValueError(f"number of permutations must be between 8 and 1024, not {num_perm}")
        bands, rows = lsh_params(threshold, num_perm)
        return cls(float(threshold), int(shingle), int(num_perm), bands, rows)

    def describe(self) -> str:
        return (f"threshold {self.threshold:g}, {self.shingle}-word shingles, {self.num_perm} permutations, "
                f"{self.bands} bands x {self.rows} rows")


# --- matching text, shingles, signatures -------------------------------------------------------------

def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class _Vocabulary(dict):
    """Raw token (whitespace-separated, as printed) -> its number, whose span in `flat` holds the
    64-bit hashes of its folded words: usually one, none for punctuation alone (`-`), two for
    `28,5%`. Folding word by word gives the words of folding the whole text (every step of
    `fold_for_matching` stays inside a word once punctuation is a space), and a corpus has few
    distinct raw tokens, so each is folded and hashed once; a text then costs one dictionary
    lookup per token and a few array operations."""

    LIMIT = 1_000_000  # distinct raw tokens kept; then the vocabulary starts again

    def __init__(self):
        super().__init__()
        self.starts = np.zeros(1024, dtype=np.int64)
        self.counts = np.zeros(1024, dtype=np.int64)
        self.flat = np.zeros(1024, dtype=np.uint64)
        self.words = 0

    def __missing__(self, raw: str) -> int:
        hashes = [_word_hash(w) for w in fold_for_matching(raw).split()]
        n = len(self)
        if n >= len(self.starts):
            self.starts = np.resize(self.starts, 2 * n)
            self.counts = np.resize(self.counts, 2 * n)
        while self.words + len(hashes) > len(self.flat):
            self.flat = np.resize(self.flat, 2 * len(self.flat))
        self.starts[n], self.counts[n] = self.words, len(hashes)
        self.flat[self.words:self.words + len(hashes)] = hashes
        self.words += len(hashes)
        self[raw] = n
        return n

    def maybe_reset(self) -> None:
        """Only between texts: numbers handed out must stay valid while a batch is read."""
        if len(self) >= self.LIMIT:
            self.clear()
            self.words = 0


_VOCAB = _Vocabulary()


def tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hashes of the folded words of several texts, laid end to end, and the number of
    words of each text (for cleaned text, as every stored block is, the words are
    `fold_for_matching(text).split()`)."""
    vocab = _VOCAB
    vocab.maybe_reset()
    numbers = [np.fromiter(map(vocab.__getitem__, t.split()), dtype=np.int64) for t in texts]
    ids = np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)
    per_token = vocab.counts[ids]
    ends = np.cumsum(per_token)
    where = np.repeat(vocab.starts[ids] - (ends - per_token), per_token) + np.arange(ends[-1] if len(ends) else 0)
    doc = np.repeat(np.arange(len(texts)), [len(n) for n in numbers])
    lengths = np.bincount(doc, weights=per_token, minlength=len(texts)).astype(np.int64)
    return vocab.flat[where], lengths


def matching_blocks(sapo: str, blocks: Iterable[str]) -> list[str]:
    """The blocks compared: the lede and the body blocks, without credit lines (`Theo TTXVN`,
    `Tin, ảnh: ...`, `Ảnh: TTXVN`) a paper may leave in the body."""
    return [b for b in (sapo, *blocks) if b and not is_credit_line(b)]


def matching_words(sapo: str, blocks: Iterable[str]) -> list[str]:
    """The folded words of the matching text (what the shingles are made of), for inspection."""
    return fold_for_matching("\n".join(matching_blocks(sapo, blocks))).split()


def token_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the folded words of one text (`tokens`)."""
    return tokens([text])[0]


def _fmix64(h: np.ndarray) -> np.ndarray:
    s, m1, m2 = _FMIX64
    h = h ^ (h >> s)
    h = h * m1
    h = h ^ (h >> s)
    h = h * m2
    return h ^ (h >> s)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which datasketch applies to every input hash ("affine32")."""
    s1, m1, s2, m2 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s1)


def _shingles_of_concat(tokens: np.ndarray, lengths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of several token sequences laid end to end: (hashes, shingles per sequence).
    A window is kept only if it lies inside one sequence."""
    counts = np.maximum(lengths - k + 1, 0)
    total = len(tokens) - k + 1
    if total <= 0 or not counts.any():
        return np.zeros(0, dtype=np.uint64), counts
    with np.errstate(over="ignore"):
        h = tokens[:total] * _MUL
        for j in range(1, k):
            h = (h + tokens[j:j + total]) * _MUL
        h = _fmix64(h)
    ends = np.cumsum(lengths)
    doc_end = np.repeat(ends, lengths)[:total]
    keep = np.arange(total) + k <= doc_end
    return h[keep], counts


def shingle_sets(texts: Sequence[str], k: int) -> list[np.ndarray]:
    """The distinct shingle hashes of each matching text (sorted uint64)."""
    words, lengths = tokens(texts)
    h, counts = _shingles_of_concat(words, lengths, k)
    return [np.unique(part) for part in np.split(h, np.cumsum(counts)[:-1])]


def shingle_set(text: str, k: int) -> np.ndarray:
    return shingle_sets([text], k)[0]


def shingle_hash32(h: np.ndarray) -> np.ndarray:
    """A shingle's 32-bit hash, the value given to datasketch's MinHash.update (as `hashfunc`)."""
    return (h >> _U64(32)).astype(np.uint32) ^ h.astype(np.uint32)


def signatures(shingles: np.ndarray, counts: np.ndarray, perms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """MinHash signatures (len(counts) x num_perm, uint32) of consecutive segments of `shingles`
    (segment i has counts[i] > 0 hashes): min over the segment of a * fmix32(h32) + b mod 2^32.
    Computed a block of documents at a time (num_perm x ~4,096 values, cache-sized, one buffer)."""
    a, b = perms
    x = _fmix32(shingle_hash32(shingles))
    n = len(counts)
    out = np.empty((n, len(a)), dtype=np.uint32)
    if not n:
        return out
    starts = np.concatenate([[0], np.cumsum(counts)])
    buf = np.empty((len(a), max(_CHUNK_SHINGLES, int(counts.max()))), dtype=np.uint32)
    a, b = a[:, None], b[:, None]
    i = 0
    while i < n:
        j = min(n, max(i + 1, int(np.searchsorted(starts, starts[i] + _CHUNK_SHINGLES, side="right")) - 1))
        block = x[starts[i]:starts[j]]
        phv = buf[:, :len(block)]
        np.multiply(a, block[None, :], out=phv)
        np.add(phv, b, out=phv)
        out[i:j] = np.minimum.reduceat(phv, starts[i:j] - starts[i], axis=1).T
        i = j
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit key per signature and band (len(sigs) x bands): a hash of the band's number
    and its `rows` values, so that one integer column holds every band."""
    n = len(sigs)
    v = sigs[:, :bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = np.broadcast_to((np.arange(bands, dtype=np.uint64) + _U64(1)) * _MUL, (n, bands)).copy()
        for j in range(rows):
            h = (h ^ v[:, :, j]) * _BAND_MUL
            h ^= h >> _U64(29)
        return _fmix64(h).view(np.int64)


def estimate(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """MinHash estimates of the Jaccard similarity of one signature with each row of `others`."""
    return (others == sig).mean(axis=-1)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted arrays of distinct shingle hashes."""
    if not len(a) or not len(b):
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter)


def as_minhash(signature: bytes, seed: int = SEED):
    """A stored signature as a `datasketch.LeanMinHash` (scheme affine32), for your own analyses."""
    from datasketch import LeanMinHash

    values = np.frombuffer(signature, dtype="<u4")
    return LeanMinHash(seed=seed, hashvalues=values, scheme=SCHEME)


# --- who is the original -----------------------------------------------------------------------------

_CREDIT = re.compile(r"^[(\[]?\s*(?:theo|nguồn)\s*:?\s+(?P<src>[^,;:()\[\]]{2,60}?)\s*[)\]]?\s*\.?$",
                     re.IGNORECASE)
_AGENCIES = r"ttxvn(?:\s*/\s*vietnam\+)?|vna|vietnam\+|vietnamplus|vov|vtv|baotintuc\.vn|tin tức"
_AGENCY_TAIL = re.compile(rf"(?:^|[\s/(–-])\(?\s*(?P<src>{_AGENCIES})\s*\)?\.?$", re.IGNORECASE)


def credited_source(author: str, blocks: Sequence[str] = ()) -> str:
    """The other source an article credits, folded (`ttxvn` for `Theo TTXVN`, `Nguồn: TTXVN`,
    `Minh Anh (TTXVN)`; `báo lào cai` for `Theo Báo Lào Cai`), or "" when it credits none: its
    byline first, then its last two blocks."""
    for line in (author, *list(blocks)[-2:]):
        if not line or len(line) > 120:  # a credit is short: long blocks are not cleaned for nothing
            continue
        line = clean_text(line)
        if len(line) > 80:
            continue
        m = _CREDIT.match(line) or _AGENCY_TAIL.search(line)
        if m:
            return fold_for_matching(m.group("src"))
    return ""


def paper_names(site: str) -> frozenset[str]:
    """The folded names a credit line may use for a registry paper (`báo lào cai`, `lào cai`,
    `baolaocai vn`...)."""
    from crawler.registry import default_registry

    s = default_registry().sites.get(site)
    if s is None:
        return frozenset()
    names = {s.name, s.short_name, f"Báo {s.short_name}", *s.domains, *s.legacy_domains}
    return frozenset(fold_for_matching(n) for n in names if n)


def instant(published_at: str | None, first_seen: str | None) -> float:
    """When an article appeared, as a POSIX time: its published time (Vietnam time when the page
    gives no offset), else when it was first seen."""
    for value in (published_at, first_seen):
        if not value:
            continue
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            continue
        return (dt if dt.tzinfo else dt.replace(tzinfo=ICT)).timestamp()
    return math.inf


@dataclass
class Member:
    id: str
    site: str
    credit: str  # folded source it credits, "" for none
    when: float
    first_seen: str = ""


def choose_canonical(members: Sequence[Member]) -> str:
    """The canonical member (module docstring): the credited paper's own article, else one that
    credits no other source, then the earliest published, the first seen, the id."""
    credited = {m.credit for m in members if m.credit}

    def rank(m: Member):
        tier = 0 if credited & paper_names(m.site) else (1 if not m.credit else 2)
        return (tier, m.when, m.first_seen or "", m.id)

    return min(members, key=rank).id


# --- documents ---------------------------------------------------------------------------------------

_ARTICLE_SQL = "SELECT id, site, sapo, body, author, published_at, first_seen, content_hash FROM articles"


@dataclass
class Doc:
    id: str
    site: str
    text: str  # the matching text, blocks one per line
    credit: str
    when: float
    first_seen: str
    content_hash: str

    @classmethod
    def from_row(cls, row: Sequence) -> Doc:
        art_id, site, sapo, body, author, published_at, first_seen, content_hash = row
        blocks = [b for b in (body or "").split("\n\n") if b]
        return cls(art_id, site or "", "\n".join(matching_blocks(sapo or "", blocks)),
                   credited_source(author or "", blocks), instant(published_at, first_seen), first_seen or "",
                   content_hash or "")

    def member(self) -> Member:
        return Member(self.id, self.site, self.credit, self.when, self.first_seen)

    @property
    def order(self) -> tuple:
        return (self.when, self.first_seen, self.id)


@dataclass
class Sketches:
    """The vectorised part for a batch of documents: shingle counts, signatures, band keys (rows
    of the arrays for the documents with at least one shingle: `indexed`)."""

    shingles: np.ndarray  # shingles (k-word windows) per document (0: too short, not indexed)
    indexed: np.ndarray  # positions (in the batch) of the documents with a signature
    sigs: np.ndarray  # len(indexed) x num_perm uint32
    keys: np.ndarray  # len(indexed) x bands int64


def sketch(texts: Sequence[str], params: Params, perms) -> Sketches:
    words, lengths = tokens(texts)
    hashes, counts = _shingles_of_concat(words, lengths, params.shingle)
    indexed = np.flatnonzero(counts > 0)
    sigs = signatures(hashes, counts[indexed], perms) if len(indexed) else np.zeros((0, params.num_perm), np.uint32)
    return Sketches(counts, indexed, sigs, band_keys(sigs, params.bands, params.rows))


# --- the index -------------------------------------------------------------------------------------

@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection (as crawler.storage.Store does)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(path) -> sqlite3.Connection:
    """A connection to a crawl database as crawler.storage.Store opens one (autocommit, WAL, waiting
    for a writer rather than failing), without touching the crawl's own schema."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles'").fetchone():
        conn.close()
        raise ValueError(f"{path} is not a crawl database (no articles table)")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    with _transaction(conn):
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM neardup_meta").fetchall())


def _chunks(items: Sequence, n: int = _SQL_CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


class _Prefilter:
    """The candidates of a batch's articles among those already indexed, all at once: for each signed article
    of the batch (a row of `sk.sigs`), how many indexed articles share an LSH band with it (`counts`) and
    which of them its signature estimates close to the threshold (`close`, article ids). Each candidate's
    signature is read once for the whole batch, a chunk of them at a time (memory stays bounded), and
    compared with all the batch's articles it is a candidate of in one vectorised step."""

    def __init__(self, index: NearDupIndex, sk: Sketches):
        n = len(sk.indexed)
        self.counts = np.zeros(n, dtype=np.int64)
        self.close: list[list[str]] = [[] for _ in range(n)]
        conn, floor = index.conn, index.params.threshold - PREFILTER_MARGIN
        buckets: dict[int, np.ndarray] = {}
        for chunk in _chunks(np.unique(sk.keys).tolist()):
            for key, found in conn.execute(f"SELECT key, group_concat(doc) FROM lsh_bands WHERE key IN "
                                           f"({_marks(len(chunk))}) GROUP BY key", chunk):
                buckets[key] = np.array(found.split(","), dtype=np.int64)
        rows, cands = [], []  # (batch row, indexed doc number): each pair once
        for i in range(n):
            found = [buckets[k] for k in sk.keys[i].tolist() if k in buckets]
            if found:
                docs = np.unique(np.concatenate(found))
                rows.append(np.full(len(docs), i, dtype=np.int64))
                cands.append(docs)
        if not cands:
            return
        rows, cands = np.concatenate(rows), np.concatenate(cands)
        order = np.argsort(cands, kind="stable")
        rows, cands = rows[order], cands[order]
        numbers = np.unique(cands)
        for start in range(0, len(numbers), _SQL_CHUNK):
            chunk = numbers[start:start + _SQL_CHUNK]
            read = conn.execute(f"SELECT doc, article_id, signature FROM minhash WHERE doc IN ({_marks(len(chunk))}) "
                                f"AND signature IS NOT NULL", chunk.tolist()).fetchall()
            if not read:
                continue
            read.sort()
            have = np.array([d for d, _, _ in read], dtype=np.int64)
            sigs = np.vstack([np.frombuffer(sig, dtype="<u4") for _, _, sig in read])
            lo, hi = np.searchsorted(cands, chunk[0], side="left"), np.searchsorted(cands, chunk[-1], side="right")
            pair_rows, pair_cands = rows[lo:hi], cands[lo:hi]
            at = np.searchsorted(have, pair_cands)
            ok = (at < len(have)) & (have[np.minimum(at, len(have) - 1)] == pair_cands)  # signed, in the index
            pair_rows, at = pair_rows[ok], at[ok]
            self.counts += np.bincount(pair_rows, minlength=n)
            est = (sigs[at] == sk.sigs[pair_rows]).mean(axis=1)
            for e in np.flatnonzero(est >= floor):
                self.close[int(pair_rows[e])].append(read[int(at[e])][1])


class _SignatureCache:
    """Signatures read or written during one batch (one transaction: no other writer), by doc number."""

    CAPACITY = 8192  # rows of the matrix: 4 MB at 128 permutations

    def __init__(self, num_perm: int):
        self.matrix = np.empty((0, num_perm), dtype=np.uint32)  # grown on demand, up to CAPACITY rows
        self.ids: list[str] = []
        self.row: dict[int, int] = {}
        self.free: list[int] = []

    def put(self, number: int, article_id: str, signature: np.ndarray) -> bool:
        """Keep a signature; False when full (the caller uses it at once)."""
        if self.free:
            r = self.free.pop()
            self.ids[r] = article_id
        elif len(self.ids) < self.CAPACITY:
            r = len(self.ids)
            if r == len(self.matrix):
                self.matrix = np.resize(self.matrix, (min(self.CAPACITY, max(64, 2 * r)), self.matrix.shape[1]))
            self.ids.append(article_id)
        else:
            return False
        self.matrix[r] = signature
        self.row[number] = r
        return True

    def drop(self, number: int) -> None:
        r = self.row.pop(number, None)
        if r is not None:
            self.free.append(r)


INDEX_BATCH = 200  # articles per transaction of NearDupIndex.index: a few MB of arrays at a time


@dataclass
class Report:
    indexed: int = 0  # articles given a signature
    too_short: int = 0  # articles recorded without a signature (fewer words than one shingle)
    near_duplicates: int = 0  # of the articles indexed, how many joined a cluster
    candidates: int = 0  # LSH candidates looked at
    compared: int = 0  # candidates compared exactly
    pairs: int = 0  # near-duplicate pairs found
    clusters_new: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class NearDupIndex:
    """The near-duplicate index of one database (its tables, module docstring)."""

    def __init__(self, conn: sqlite3.Connection, params: Params):
        self.conn, self.params = conn, params
        self.perms = permutations(params.num_perm, params.seed)
        self._sets: dict[str, np.ndarray] = {}  # article id -> shingle set, for this batch's comparisons
        self._sigs = _SignatureCache(params.num_perm)  # doc number -> signature, for this batch's candidates

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, conn: sqlite3.Connection, requested: Params | None = None) -> NearDupIndex:
        """The database's index, created with `requested` (default parameters) if it has none. An
        existing index keeps the parameters it was built with: a different request is logged as a
        warning (`python -m crawler dedupe --rebuild` applies it)."""
        ensure_schema(conn)
        requested = requested or Params.make()
        stored = params_from_meta(read_meta(conn))
        if stored is None:
            with _transaction(conn):
                if params_from_meta(read_meta(conn)) is None:  # another process may have been first
                    write_meta(conn, requested)
            stored = params_from_meta(read_meta(conn))
        elif (stored.threshold, stored.shingle, stored.num_perm) != (
                requested.threshold, requested.shingle, requested.num_perm):
            logger.warning("near-duplicate index built with %s; the settings ask for %s: run "
                           "`python -m crawler dedupe --rebuild` to apply them", stored.describe(),
                           requested.describe())
        return cls(conn, stored)

    # --- what needs indexing -----------------------------------------------------------------------
    def pending(self, *, site: str | None = None, ids: Iterable[str] | None = None) -> list[str]:
        """Articles never indexed, or changed since (content_hash differs): all, of one paper, or
        among `ids`."""
        sql = ("SELECT a.id FROM articles a LEFT JOIN minhash m ON m.article_id = a.id "
               "WHERE (m.article_id IS NULL OR m.content_hash IS NOT a.content_hash)")
        if ids is not None:
            out: list[str] = []
            for chunk in _chunks(sorted(set(ids))):
                out += [r[0] for r in self.conn.execute(sql + f" AND a.id IN ({_marks(len(chunk))})", chunk)]
            return out
        if site is not None:
            return [r[0] for r in self.conn.execute(sql + " AND a.site = ?", [site])]
        return [r[0] for r in self.conn.execute(sql)]

    def docs(self, ids: Sequence[str]) -> list[Doc]:
        out = []
        for chunk in _chunks(list(ids)):
            rows = self.conn.execute(f"{_ARTICLE_SQL} WHERE id IN ({_marks(len(chunk))})", chunk).fetchall()
            out += [Doc.from_row(r) for r in rows]
        return out

    # --- incremental indexing ----------------------------------------------------------------------
    def index(self, ids: Iterable[str]) -> Report:
        """Index these articles against everything indexed so far (and each other, oldest first); link the
        near-duplicates found into clusters. INDEX_BATCH articles are read, sketched and indexed per
        transaction, in that order: memory stays bounded whatever their number (a crawl's close indexes
        all it stored), and the outcome is that of one pass over all of them."""
        t0 = time.perf_counter()
        report = Report()
        ordered = self._oldest_first(list(dict.fromkeys(ids)))
        for start in range(0, len(ordered), INDEX_BATCH):
            self._index_batch(ordered[start:start + INDEX_BATCH], report)
        report.seconds = time.perf_counter() - t0
        return report

    def _oldest_first(self, ids: Sequence[str]) -> list[str]:
        """`ids` of stored articles in `Doc.order`, from their dates alone (not their text)."""
        keyed = []
        for chunk in _chunks(list(ids)):
            rows = self.conn.execute(f"SELECT id, published_at, first_seen FROM articles WHERE id IN "
                                     f"({_marks(len(chunk))})", chunk)
            keyed += [((instant(published, first), first or "", art_id), art_id) for art_id, published, first in rows]
        return [art_id for _, art_id in sorted(keyed)]

    def _index_batch(self, ids: Sequence[str], report: Report) -> None:
        docs = sorted(self.docs(ids), key=lambda d: d.order)
        if not docs:
            return
        sk = sketch([d.text for d in docs], self.params, self.perms)
        row_of = {int(pos): i for i, pos in enumerate(sk.indexed)}
        now = now_iso()
        self._sets = {}
        self._sigs = _SignatureCache(self.params.num_perm)
        with _transaction(self.conn):
            hashes = self._indexed_hashes([d.id for d in docs])
            # A batch of articles new to the index (the usual case) has its candidates among the indexed ones
            # found and estimated for all its articles at once (_Prefilter); the articles it indexes itself are
            # added to each later article's as it goes (batch_keys). Else, article by article (_matches).
            pre = _Prefilter(self, sk) if not hashes else None
            batch_keys: dict[int, list[int]] = {}
            for pos, doc in enumerate(docs):
                known = hashes.get(doc.id)
                if known is not None:
                    if known == doc.content_hash:
                        continue  # indexed meanwhile by another process
                    self._forget(doc.id)
                i = row_of.get(pos)
                insert = ("INSERT INTO minhash (article_id, content_hash, shingles, signature, indexed_at) "
                          "VALUES (?, ?, ?, ?, ?)")
                if i is None:
                    self.conn.execute(insert, [doc.id, doc.content_hash, int(sk.shingles[pos]), None, now])
                    report.too_short += 1
                    continue
                if pre is None:
                    matches = self._matches(doc, sk.sigs[i], sk.keys[i], report)
                else:
                    earlier = sorted({j for k in sk.keys[i].tolist() for j in batch_keys.get(k, ())})
                    close = pre.close[i]
                    if earlier:
                        est = estimate(sk.sigs[i], sk.sigs[earlier])
                        close = close + [docs[int(sk.indexed[earlier[e]])].id
                                         for e in np.flatnonzero(est >= self.params.threshold - PREFILTER_MARGIN)]
                    report.candidates += int(pre.counts[i]) + len(earlier)
                    matches = self._compare(doc, close, report)
                    for k in set(sk.keys[i].tolist()):
                        batch_keys.setdefault(k, []).append(i)
                number = self.conn.execute(insert, [doc.id, doc.content_hash, int(sk.shingles[pos]),
                                                    sk.sigs[i].astype("<u4").tobytes(), now]).lastrowid
                self._sigs.put(number, doc.id, sk.sigs[i])
                self.conn.executemany("INSERT OR IGNORE INTO lsh_bands VALUES (?, ?)",
                                      [(int(k), number) for k in sk.keys[i]])
                report.indexed += 1
                if matches:
                    report.near_duplicates += 1
                    report.pairs += len(matches)
                    report.clusters_new += self._link(doc, matches, now)
        self._sets = {}

    def _indexed_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """content_hash of those of `ids` already in the index."""
        out: dict[str, str] = {}
        for chunk in _chunks(list(ids)):
            out.update(self.conn.execute(f"SELECT article_id, content_hash FROM minhash WHERE article_id IN "
                                         f"({_marks(len(chunk))})", chunk).fetchall())
        return out

    def _set_of(self, doc: Doc) -> np.ndarray:
        s = self._sets.get(doc.id)
        if s is None:
            s = self._sets[doc.id] = shingle_set(doc.text, self.params.shingle)
        return s

    def _matches(self, doc: Doc, sig: np.ndarray, keys: np.ndarray, report: Report) -> list[tuple[str, float]]:
        p = self.params
        keys = [int(k) for k in keys]
        # As one string: hundreds of rows cost more to step through one by one than to split.
        found = self.conn.execute(f"SELECT group_concat(doc) FROM (SELECT DISTINCT doc FROM lsh_bands WHERE key IN "
                                  f"({_marks(len(keys))}))", keys).fetchone()[0]
        cands = [int(d) for d in found.split(",")] if found else []
        close: list[str] = []
        floor = p.threshold - PREFILTER_MARGIN
        sigs = self._sigs
        # The articles of a batch share most of their candidates: a signature is read from the database once per
        # batch and kept (up to _SignatureCache.CAPACITY); past that, a chunk at a time, so that memory stays
        # bounded however many candidates an article has.
        for chunk in _chunks([d for d in cands if d not in sigs.row]):
            rows = self.conn.execute(f"SELECT doc, article_id, signature FROM minhash WHERE doc IN "
                                     f"({_marks(len(chunk))}) AND signature IS NOT NULL", chunk).fetchall()
            extra = [(a, np.frombuffer(s, dtype="<u4")) for d, a, s in rows
                     if not sigs.put(d, a, np.frombuffer(s, dtype="<u4")) and a != doc.id]
            if extra:
                report.candidates += len(extra)
                est = estimate(sig, np.vstack([v for _, v in extra]))
                close += [extra[i][0] for i in np.flatnonzero(est >= floor)]
        rows = [r for r in (sigs.row.get(d) for d in cands) if r is not None and sigs.ids[r] != doc.id]
        if rows:
            report.candidates += len(rows)
            est = estimate(sig, sigs.matrix[rows])
            close += [sigs.ids[rows[i]] for i in np.flatnonzero(est >= floor)]
        return self._compare(doc, close, report)

    def _compare(self, doc: Doc, close: list[str], report: Report) -> list[tuple[str, float]]:
        """The exact similarity with the candidates whose estimate came close: the matches, best first."""
        p = self.params
        if not close:
            return []
        report.compared += len(close)
        mine = self._set_of(doc)
        out = []
        for other in self.docs(close):
            sim = jaccard(mine, self._set_of(other))
            if sim >= p.threshold:
                out.append((other.id, sim))
        return sorted(out, key=lambda m: (-m[1], m[0]))

    def _link(self, doc: Doc, matches: list[tuple[str, float]], now: str) -> int:
        """Put `doc` in a cluster with the articles it matches (merging their clusters); returns 1 if
        a cluster was created."""
        ids = [m for m, _ in matches]
        member_of = dict(self.conn.execute(
            f"SELECT article_id, cluster_id FROM cluster_members WHERE article_id IN ({_marks(len(ids))})", ids))
        created = 0
        cluster_ids = sorted(set(member_of.values()))
        if cluster_ids:
            cid = cluster_ids[0]
            for other in cluster_ids[1:]:
                self.conn.execute("UPDATE cluster_members SET cluster_id = ? WHERE cluster_id = ?", [cid, other])
                self.conn.execute("DELETE FROM clusters WHERE id = ?", [other])
        else:
            cid = self.conn.execute(
                "INSERT INTO clusters (canonical_id, size, created_at, updated_at) VALUES (?, 0, ?, ?)",
                [doc.id, now, now]).lastrowid
            created = 1
        for other, sim in matches:
            if other not in member_of:
                self.conn.execute("INSERT INTO cluster_members VALUES (?, ?, 0, ?, ?, ?)",
                                  [other, cid, sim, doc.id, now])
        best, best_sim = matches[0]
        self.conn.execute("INSERT INTO cluster_members VALUES (?, ?, 0, ?, ?, ?)", [doc.id, cid, best_sim, best, now])
        self._settle(cid, now)
        return created

    def _settle(self, cid: int, now: str) -> None:
        """Choose the cluster's canonical member again and update its size; a cluster left with one
        member is dissolved."""
        ids = [r[0] for r in self.conn.execute("SELECT article_id FROM cluster_members WHERE cluster_id = ?", [cid])]
        if len(ids) < 2:
            self.conn.execute("DELETE FROM cluster_members WHERE cluster_id = ?", [cid])
            self.conn.execute("DELETE FROM clusters WHERE id = ?", [cid])
            return
        canonical = choose_canonical([d.member() for d in self.docs(ids)])
        self.conn.execute("UPDATE cluster_members SET is_canonical = (article_id = ?) WHERE cluster_id = ?",
                          [canonical, cid])
        self.conn.execute("UPDATE clusters SET canonical_id = ?, size = ?, updated_at = ? WHERE id = ?",
                          [canonical, len(ids), now, cid])

    def _forget(self, article_id: str) -> None:
        """Take a changed article out of the index and of its cluster before indexing it again."""
        row = self.conn.execute("SELECT doc, signature FROM minhash WHERE article_id = ?", [article_id]).fetchone()
        if row and row[1]:
            sig = np.frombuffer(row[1], dtype="<u4")[None, :]
            keys = band_keys(sig, self.params.bands, self.params.rows)[0]
            self.conn.executemany("DELETE FROM lsh_bands WHERE key = ? AND doc = ?", [(int(k), row[0]) for k in keys])
        self.conn.execute("DELETE FROM minhash WHERE article_id = ?", [article_id])
        if row:
            self._sigs.drop(row[0])  # its doc number may be given to the next article inserted
        cid = self.conn.execute("SELECT cluster_id FROM cluster_members WHERE article_id = ?", [article_id]).fetchone()
        if cid:
            self.conn.execute("DELETE FROM cluster_members WHERE article_id = ?", [article_id])
            self._settle(cid[0], now_iso())

    # --- reading -------------------------------------------------------------------------------------
    def stats(self) -> dict:
        q = self.conn.execute
        return {
            "articles": q("SELECT count(*) FROM articles").fetchone()[0],
            "indexed_total": q("SELECT count(*) FROM minhash WHERE signature IS NOT NULL").fetchone()[0],
            "too_short_total": q("SELECT count(*) FROM minhash WHERE signature IS NULL").fetchone()[0],
            "clusters": q("SELECT count(*) FROM clusters").fetchone()[0],
            "clustered_articles": q("SELECT count(*) FROM cluster_members").fetchone()[0],
            "params": self.params.__dict__,
        }


def params_from_meta(meta: dict[str, str]) -> Params | None:
    if "params" not in meta:
        return None
    data = json.loads(meta["params"])
    return Params(**{k: data[k] for k in ("threshold", "shingle", "num_perm", "bands", "rows", "seed")})


def write_meta(conn: sqlite3.Connection, params: Params, **extra) -> None:
    a, b = permutations(params.num_perm, params.seed)
    rows = {
        "schema_version": str(SCHEMA_VERSION),
        "params": json.dumps(params.__dict__),
        "scheme": SCHEME,
        # The permutations themselves, so that the index never depends on how they are drawn.
        "permutations": json.dumps({"a": a.tolist(), "b": b.tolist()}),
        "built_at": now_iso(),
        **{k: json.dumps(v) for k, v in extra.items()},
    }
    conn.executemany("INSERT OR REPLACE INTO neardup_meta VALUES (?, ?)", list(rows.items()))


# --- rebuild ---------------------------------------------------------------------------------------

class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def candidate_pairs(keys: np.ndarray, max_bucket: int = MAX_BUCKET) -> np.ndarray:
    """Distinct (i, j), i < j, of documents sharing a band key (keys: n x bands; a document's index is
    its rank, earliest first). Each document is paired with at most `max_bucket` earlier ones of a
    bucket: a bucket of hundreds of alike articles is linked through its nearest ranks."""
    n, bands = keys.shape
    flat = keys.reshape(-1)
    doc = np.repeat(np.arange(n, dtype=np.int64), bands)
    order = np.lexsort((doc, flat))
    k_sorted, d_sorted = flat[order], doc[order]
    same = np.zeros(len(order), dtype=bool)
    same[1:] = k_sorted[1:] == k_sorted[:-1]
    # Position of each entry in its bucket: run starts where `same` is False.
    run_start = np.maximum.accumulate(np.where(~same, np.arange(len(order)), 0))
    depth = np.arange(len(order)) - run_start
    pairs = []
    for lag in range(1, max_bucket + 1):
        sel = np.flatnonzero(depth >= lag)
        if not len(sel):
            break
        pairs.append(np.stack([d_sorted[sel - lag], d_sorted[sel]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.concatenate(pairs)
    p = p[p[:, 0] != p[:, 1]]
    p.sort(axis=1)
    return np.unique(p, axis=0)


def rebuild(conn: sqlite3.Connection, params: Params, *, batch: int = 2000,
            progress=None) -> Report:
    """Recompute every near-duplicate table from the articles (module docstring): signatures and band
    keys in vectorised batches, candidate pairs from shared band keys, their MinHash estimates, exact
    comparison of the close ones, clusters as connected components. Computed from one read of the
    articles, written in one transaction at the end; articles stored meanwhile are indexed after."""
    t0 = time.perf_counter()
    report = Report()
    timings = report.timings
    ensure_schema(conn)
    perms = permutations(params.num_perm, params.seed)

    # Pass 1: every article's signature and band keys, in time order.
    t = time.perf_counter()
    order_rows = conn.execute("SELECT id, published_at, first_seen FROM articles").fetchall()
    order_rows.sort(key=lambda r: (instant(r[1], r[2]), r[2] or "", r[0]))
    ids = [r[0] for r in order_rows]
    del order_rows
    members: list[Member] = []
    hashes: list[str] = []
    shingle_counts = np.zeros(len(ids), dtype=np.int64)
    sig_parts, key_parts, pos_parts = [], [], []
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        by_id = {d.id: d for d in _docs_by_id(conn, chunk)}
        docs = [by_id[i] for i in chunk]
        sk = sketch([d.text for d in docs], params, perms)
        shingle_counts[start:start + len(docs)] = sk.shingles
        sig_parts.append(sk.sigs)
        key_parts.append(sk.keys)
        pos_parts.append(sk.indexed + start)
        members += [d.member() for d in docs]
        hashes += [d.content_hash for d in docs]
        if progress:
            progress(start + len(docs), len(ids))
    sigs = np.concatenate(sig_parts) if sig_parts else np.zeros((0, params.num_perm), np.uint32)
    keys = np.concatenate(key_parts) if key_parts else np.zeros((0, params.bands), np.int64)
    pos = np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64)  # row of sigs -> article rank
    del sig_parts, key_parts, pos_parts
    timings["signatures"] = time.perf_counter() - t

    # Candidates: documents sharing a band key; then their estimates; then exact comparison.
    t = time.perf_counter()
    pairs = candidate_pairs(keys)  # rows of sigs, earlier first
    report.candidates = len(pairs)
    est = np.empty(len(pairs))
    for s in range(0, len(pairs), 100_000):
        p = pairs[s:s + 100_000]
        est[s:s + len(p)] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    pairs = pairs[est >= params.threshold - PREFILTER_MARGIN]
    report.compared = len(pairs)
    timings["candidates"] = time.perf_counter() - t

    t = time.perf_counter()
    needed = np.unique(pairs).tolist() if len(pairs) else []
    sets: dict[int, np.ndarray] = {}
    for start in range(0, len(needed), batch):
        rows = needed[start:start + batch]
        by_id = {d.id: d for d in _docs_by_id(conn, [ids[pos[r]] for r in rows])}
        texts = [by_id[ids[pos[r]]].text for r in rows]
        sets.update(zip(rows, shingle_sets(texts, params.shingle), strict=True))
    edges = []
    for i, j in pairs.tolist():
        sim = jaccard(sets[i], sets[j])
        if sim >= params.threshold:
            edges.append((i, j, sim))
    del sets
    report.pairs = len(edges)
    timings["compare"] = time.perf_counter() - t

    # Clusters: connected components of the near-duplicate pairs.
    t = time.perf_counter()
    uf = _UnionFind(len(sigs))
    for i, j, _ in edges:
        uf.union(i, j)
    best_earlier: dict[int, tuple[float, int]] = {}
    best_any: dict[int, tuple[float, int]] = {}
    for i, j, sim in edges:  # i is the earlier one
        if sim > best_earlier.get(j, (-1.0, 0))[0]:
            best_earlier[j] = (sim, i)
        for a, b in ((i, j), (j, i)):
            if sim > best_any.get(a, (-1.0, 0))[0]:
                best_any[a] = (sim, b)
    components: dict[int, list[int]] = {}
    for r in best_any:
        components.setdefault(uf.find(r), []).append(r)
    now = now_iso()
    cluster_rows, member_rows = [], []
    for cid, rows in enumerate(sorted(components.values(), key=min), start=1):
        canonical = choose_canonical([members[pos[r]] for r in rows])
        cluster_rows.append((cid, canonical, len(rows), now, now))
        for r in sorted(rows):
            sim, other = best_earlier.get(r) or best_any[r]
            art_id = ids[pos[r]]
            member_rows.append((art_id, cid, int(art_id == canonical), sim, ids[pos[other]], now))
    report.clusters_new = len(cluster_rows)
    clustered = {m[0] for m in member_rows}
    report.near_duplicates = sum(1 for r in best_earlier if ids[pos[r]] in clustered)
    timings["clusters"] = time.perf_counter() - t

    # One transaction: the old index out, the new one in.
    t = time.perf_counter()
    flat_keys = keys.reshape(-1)
    flat_docs = np.repeat(pos, params.bands)
    key_order = np.lexsort((flat_docs, flat_keys))
    row_of = {int(p): i for i, p in enumerate(pos)}
    with _transaction(conn):
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        write_meta(conn, params, last_rebuild=report_summary(report, len(ids)))
        # minhash.doc is the article's rank + 1 (time order), the number lsh_bands refers to.
        conn.executemany("INSERT INTO minhash VALUES (?, ?, ?, ?, ?, ?)", (
            (r + 1, ids[r], hashes[r], int(shingle_counts[r]),
             sigs[row_of[r]].astype("<u4").tobytes() if r in row_of else None, now)
            for r in range(len(ids))))
        for at in range(0, len(key_order), 200_000):  # in key order: the B-tree is written left to right
            part = key_order[at:at + 200_000]
            conn.executemany("INSERT OR IGNORE INTO lsh_bands VALUES (?, ?)",
                             zip(flat_keys[part].tolist(), (flat_docs[part] + 1).tolist(), strict=True))
        conn.executemany("INSERT INTO clusters VALUES (?, ?, ?, ?, ?)", cluster_rows)
        conn.executemany("INSERT INTO cluster_members VALUES (?, ?, ?, ?, ?, ?)", member_rows)
    timings["write"] = time.perf_counter() - t
    report.indexed = len(pos)
    report.too_short = len(ids) - len(pos)
    # Articles stored while this ran (by a crawl beside it) are indexed against the new index.
    late = NearDupIndex(conn, params)
    rest = late.pending()
    if rest:
        more = late.index(rest)
        report.indexed += more.indexed
        report.too_short += more.too_short
        report.near_duplicates += more.near_duplicates
        report.clusters_new += more.clusters_new
    report.seconds = time.perf_counter() - t0
    return report


def report_summary(report: Report, articles: int) -> dict:
    return {"articles": articles, "candidates": report.candidates, "compared": report.compared,
            "pairs": report.pairs, "clusters": report.clusters_new, "at": now_iso()}


def _docs_by_id(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Doc]:
    out = []
    for chunk in _chunks(list(ids)):
        out += [Doc.from_row(r) for r in
                conn.execute(f"{_ARTICLE_SQL} WHERE id IN ({_marks(len(chunk))})", chunk).fetchall()]
    return out
