"""Near-duplicate detection at scale: indexing, per-article query, memory, precision and recall on
generated articles with planted duplicates, beside a brute-force all-pairs Jaccard on a sample and
datasketch's own MinHash in the same run.

The corpus (deterministic, seeded): Vietnamese-looking articles from a lexicon of syllables with
Zipf-distributed words, stock phrases, names, places and figures, so that unrelated articles share
about as little text as real ones do. Planted in it:
- duplicate groups: an original and 1-4 copies on other papers, each copy with a new title (mostly),
  another byline (`Theo TTXVN`, `Theo Báo ...`, a reporter), a paragraph cut, a rewritten lede, an
  added local paragraph, a few words replaced, inserted or deleted, the other tone-mark convention,
  published up to three days later (each edit drawn at random, so some copies are heavy rewrites);
- hard negatives: pairs and triples of different stories of one kind in one week (delegation
  visits, conferences, storm damage) sharing their frame sentences and stock paragraphs, with other
  facts;
- the rest: unrelated articles.
Truth: two articles are duplicates when they belong to one planted group.

Measured, each step in its own process (`python -m crawler dedupe`, peak RSS from os.wait4):
1. indexing: `dedupe --rebuild` over the N articles (signatures, LSH bands, candidates, exact
   comparison, clusters, all written to SQLite);
2. query: N_NEW more articles (a tenth of them copies of indexed ones) stored, then `dedupe`
   indexes them incrementally against the N: ms per new article;
3. precision and recall of the clusters (pairs of articles in one cluster against pairs in one
   planted group) over all N + N_NEW articles;
4. brute force on a sample of whole groups: the exact Jaccard similarity of every pair (one sparse
   matrix product, the fastest all-pairs we could write), its time, its precision and recall at
   the threshold, and ours on the same sample; a threshold sweep on the sample;
5. signatures: our vectorised sketching beside datasketch's `MinHash.bulk` on the same shingles.

Writes benchmarks/results/neardup.json (--quick too, marked so, as the other benchmarks do).

    python benchmarks/bench_neardup.py [--quick] [--articles N] [--sample N] [--threshold T]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_json  # noqa: E402

from crawler import neardup  # noqa: E402
from crawler.registry import default_registry  # noqa: E402

# --- a Vietnamese-looking generator ----------------------------------------------------------------
SYLLABLES = """
an anh ba bà bài ban bản bảo bắc bằng bên bình bộ bố các cải cán cao cấp cây chạy chăm chăn chất
chế chỉ chính cho chọn chủ chung chức chương có con công cơ cũng cuộc cư của cứu dân dần dẫn dịch
diện doanh dụng dùng duy dự dựng dưỡng đã đại đàm đảm đảng đạo đạt đăng đầu đầy đất để đến đề
địa điểm điện định đó đoàn đối đồng động đơn đủ đúng đưa được giá giải giao giáo giảm giới giữ
gia hai hàng hạ hạn hành hạt hạng hay hệ hiện hiệu hình họ học hỏi hội hơn hợp huy huyện hướng
hưởng kế kết khai khám khăn khẩu khi khó khoa khỏi khu khuyến kiểm kiến kinh kỳ lại làm lãnh lao
lần lập lễ lên liên lĩnh loại lớn lợi lực lượng lưu mạnh mặt mới mô môi mục mùa mức nay năm nâng
nền nếu ngành ngày nghệ nghiệp nghị ngoài người nguồn nhà nhanh nhân nhập nhất nhận nhiều nhiệm
nhóm như những nông nội nước ổn phải phát phần phí phó phòng phố phối phục phương quan quản quảng
quốc quy quyết ra rà rất rộng sách sản sát sau sẽ sinh số sở sống sự tác tài tại tạo tăng tâm
tập tế thác thành thái tham thanh thẩm thấy thế thêm theo thì thiết thiện thời thu thuận thông
thống thủ thức thương thường thực tiến tiếp tiêu tin tình tỉnh toàn tổ tốt tổng trang trao trên
tri triển triệu trình trọng trong trợ trung trường tuyên tư tục từ tự tỷ ủy vào văn vấn vận vẫn
về việc viên vốn vụ vùng vực vững xã xây xuất xúc yêu hòa hóa khỏe thủy lũy tụy họa hỏa thỏa
khóa quý quỳ ngụy thụy xòe
""".split()  # noqa: SIM905
STOCK = [
    "góp phần nâng cao đời sống vật chất và tinh thần của người dân",
    "Ủy viên Ban Thường vụ Tỉnh ủy, Phó Chủ tịch UBND tỉnh",
    "các sở, ban, ngành, đoàn thể của tỉnh",
    "phát triển kinh tế - xã hội của địa phương",
    "bảo đảm quốc phòng, an ninh trên địa bàn",
    "chương trình mục tiêu quốc gia xây dựng nông thôn mới",
    "đồng bào các dân tộc thiểu số",
    "tạo điều kiện thuận lợi cho người dân và doanh nghiệp",
    "tiếp tục quan tâm, chỉ đạo sát sao",
    "theo đúng quy định của pháp luật",
    "đẩy mạnh công tác tuyên truyền, vận động",
    "từng bước nâng cao chất lượng cuộc sống",
    "hoàn thành các chỉ tiêu, nhiệm vụ đề ra",
    "trong thời gian tới",
    "tăng cường công tác kiểm tra, giám sát",
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Nông", "Đàm", "Lò", "Hà", "Vi", "Lục"]
GIVEN = ["Văn Minh", "Thị Lan", "Đức Thắng", "Thu Hằng", "Quang Huy", "Thanh Hòa", "Minh Anh", "Hồng Nhung",
         "Ngọc Sơn", "Thế Hiển", "Xuân Trường", "Thùy Dung", "Mạnh Cường", "Khánh Linh", "Tuấn Anh"]
PROVINCES = ["Lào Cai", "Cao Bằng", "Cần Thơ", "Nam Định", "Hải Phòng", "Thái Nguyên", "Đắk Lắk", "Gia Lai",
             "Quảng Ninh", "Nghệ An", "Thanh Hóa", "An Giang", "Đồng Nai", "Khánh Hòa", "Lạng Sơn", "Sơn La"]
POSITIONS = ["Bí thư Tỉnh ủy", "Chủ tịch UBND tỉnh", "Phó Bí thư Thường trực Tỉnh ủy", "Chủ tịch HĐND tỉnh",
             "Trưởng Ban Tuyên giáo và Dân vận Tỉnh ủy", "Phó Chủ tịch Thường trực UBND tỉnh"]
KINDS = {
    "delegation": (
        "Ngày {d}/{m}, Đoàn công tác tỉnh {a} do đồng chí {name}, {pos} làm trưởng đoàn đã đến thăm và làm việc tại tỉnh {b}.",
        ["Tiếp và làm việc với đoàn có các đồng chí lãnh đạo Tỉnh ủy, HĐND, UBND tỉnh {b} cùng lãnh đạo các sở, ban, ngành, đoàn thể của tỉnh.",
         "Tại buổi làm việc, lãnh đạo hai tỉnh đã thông tin khái quát về tình hình thực hiện nhiệm vụ phát triển kinh tế - xã hội, bảo đảm quốc phòng, an ninh trong thời gian qua.",
         "Hai bên thống nhất tiếp tục tăng cường mối quan hệ hợp tác, chia sẻ kinh nghiệm trong công tác lãnh đạo, chỉ đạo, thúc đẩy sự phát triển chung giữa hai địa phương.",
         "Nhân dịp này, Đoàn công tác tỉnh {a} đã trao tặng quà lưu niệm tỉnh {b}.",
         "Trước đó, đoàn đã dâng hương tưởng niệm các anh hùng liệt sĩ và tham quan một số mô hình sản xuất, khu di tích lịch sử tiêu biểu trên địa bàn tỉnh {b}."]),
    "conference": (
        "Sáng {d}/{m}, UBND tỉnh {b} tổ chức hội nghị tổng kết công tác năm và triển khai nhiệm vụ trọng tâm năm tới.",
        ["Dự hội nghị có đồng chí {name}, {pos}; lãnh đạo các sở, ban, ngành, đoàn thể của tỉnh và các địa phương.",
         "Phát biểu chỉ đạo hội nghị, đồng chí {name} ghi nhận, biểu dương những kết quả đạt được, đồng thời chỉ ra những tồn tại, hạn chế cần khắc phục trong thời gian tới.",
         "Đồng chí đề nghị các cấp, các ngành bám sát chỉ đạo của Trung ương, của tỉnh, chủ động xây dựng kế hoạch, phân công rõ người, rõ việc, rõ trách nhiệm.",
         "Tại hội nghị, các đại biểu đã tập trung thảo luận, đánh giá những khó khăn, vướng mắc và đề xuất nhiều giải pháp thiết thực để thực hiện thắng lợi nhiệm vụ năm tới.",
         "Dịp này, nhiều tập thể, cá nhân có thành tích xuất sắc đã được UBND tỉnh {b} tặng Bằng khen."]),
    "storm": (
        "Do ảnh hưởng của mưa lớn kéo dài từ ngày {d}/{m}, nhiều địa phương trên địa bàn tỉnh {b} bị thiệt hại về người và tài sản.",
        ["Theo báo cáo của Ban Chỉ huy phòng, chống thiên tai và tìm kiếm cứu nạn tỉnh, mưa lớn đã gây sạt lở đất, ngập úng cục bộ tại nhiều khu vực.",
         "Ngay sau khi xảy ra sự việc, lãnh đạo tỉnh đã chỉ đạo các lực lượng chức năng phối hợp với chính quyền địa phương khẩn trương khắc phục hậu quả, hỗ trợ người dân ổn định cuộc sống.",
         "Cơ quan chuyên môn khuyến cáo người dân không đi qua các ngầm tràn, khu vực có nguy cơ sạt lở cao khi trời mưa lớn.",
         "Hiện các lực lượng tiếp tục túc trực tại những điểm xung yếu, sẵn sàng phương án sơ tán người dân khỏi khu vực nguy hiểm khi có tình huống xấu xảy ra.",
         "Tổng thiệt hại ban đầu đang được các địa phương tiếp tục thống kê, báo cáo về Ban Chỉ huy phòng, chống thiên tai và tìm kiếm cứu nạn tỉnh."]),
}
AGENCY_BYLINES = ["Theo TTXVN", "TTXVN", "Theo TTXVN/Vietnam+", "Minh Anh (TTXVN)"]
TO_OLD = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé", "ỏe": "oẻ",
          "õe": "oẽ", "ọe": "oẹ", "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}


class Lexicon:
    """Words of one to three syllables with Zipf frequencies: text drawn from it repeats common words
    and rarely a five-syllable sequence, as news does."""

    def __init__(self, rng: np.random.Generator, size: int = 30_000):
        sizes = rng.choice([1, 2, 3], size=size, p=[0.35, 0.55, 0.10])
        syl = np.array(SYLLABLES, dtype=object)
        self.words = np.array([" ".join(syl[rng.integers(0, len(syl), n)]) for n in sizes], dtype=object)
        p = 1.0 / np.arange(1, size + 1) ** 1.05
        self.cum = np.cumsum(p / p.sum())
        self.rng = rng

    def words_for(self, n: int) -> list[str]:
        return self.words[np.searchsorted(self.cum, self.rng.random(n))].tolist()


class Writer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.lex = Lexicon(np.random.default_rng(seed))

    def name(self) -> str:
        return f"{self.rng.choice(FAMILY)} {self.rng.choice(GIVEN)}"

    def sentence(self) -> str:
        r = self.rng
        words = self.lex.words_for(r.randint(9, 22))
        if r.random() < 0.35:
            words.insert(r.randrange(len(words) + 1), r.choice(STOCK))
        if r.random() < 0.3:
            words.insert(r.randrange(len(words) + 1), f"{r.randint(2, 9800):,}".replace(",", "."))
        if r.random() < 0.15:
            words.insert(r.randrange(len(words) + 1), f"tỉnh {r.choice(PROVINCES)}")
        text = " ".join(words)
        if r.random() < 0.3:
            cut = text.find(" ", len(text) // 2)
            if cut > 0:
                text = text[:cut] + "," + text[cut:]
        return text[0].upper() + text[1:] + "."

    def paragraph(self, n: tuple[int, int] = (2, 4)) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(*n)))

    def title(self) -> str:
        text = " ".join(self.lex.words_for(self.rng.randint(5, 9)))
        return text[0].upper() + text[1:]


@dataclass
class Art:
    id: str
    site: str
    title: str
    sapo: str
    body: list[str]
    author: str
    published: datetime
    group: int = -1  # planted duplicate group, -1 for none
    kind: str = "plain"  # plain | original | copy | negative
    edits: list[str] = field(default_factory=list)


SITES = [s.key for s in default_registry()]


def _old_style(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for new, old in TO_OLD.items():
        text = text.replace(new, old)
    return text


def _edit_words(w: Writer, body: list[str], n: int) -> list[str]:
    body = list(body)
    for _ in range(n):
        i = w.rng.randrange(len(body))
        words = body[i].split(" ")
        j = w.rng.randrange(len(words))
        op = w.rng.random()
        if op < 0.5:
            words[j] = w.lex.words_for(1)[0]
        elif op < 0.75 and len(words) > 3:
            del words[j]
        else:
            words.insert(j, w.lex.words_for(1)[0])
        body[i] = " ".join(words)
    return body


def make_copy(w: Writer, orig: Art, n: int, site: str, syndicated: bool) -> Art:
    r = w.rng
    edits = []
    title, sapo, body = orig.title, orig.sapo, list(orig.body)
    if r.random() < 0.8:
        title, edits = w.title(), [*edits, "title"]
    if len(body) > 3 and r.random() < 0.5:
        del body[r.randrange(1, len(body))]
        edits.append("cut_paragraph")
    if r.random() < 0.3:
        sapo, edits = w.sentence(), [*edits, "new_lede"]
    if r.random() < 0.25:
        body.append(w.paragraph((1, 3)))
        edits.append("added_paragraph")
    k = r.choice([0, 1, 2, 3, 5, 8])
    if k:
        body, edits = _edit_words(w, body, k), [*edits, f"words_{k}"]
    if r.random() < 0.3:
        title, sapo, body = _old_style(title), _old_style(sapo), [_old_style(p) for p in body]
        edits.append("tone_marks")
    if syndicated:
        author = r.choice(AGENCY_BYLINES)
    else:
        paper = default_registry()[orig.site]
        author = r.choice([f"Theo {paper.name}", w.name(), f"{w.name()} (tổng hợp)"])
    edits.append("byline")
    when = orig.published + timedelta(minutes=r.randint(20, 72 * 60))
    return Art(f"c{n:07d}", site, title, sapo, body, author, when, orig.group, "copy", edits)


def make_negatives(w: Writer, start: int, week: datetime, group: int, size: int) -> list[Art]:
    r = w.rng
    kind = r.choice(list(KINDS))
    frame, stock = KINDS[kind]
    host = r.choice(PROVINCES)
    out = []
    for i in range(size):
        guest = r.choice([p for p in PROVINCES if p != host])
        day = week + timedelta(days=r.randint(0, 6), hours=r.randint(7, 17))
        fill = {"d": day.day, "m": day.month, "a": guest, "b": host, "name": w.name(), "pos": r.choice(POSITIONS)}
        shared = r.sample(stock, r.randint(2, len(stock)))
        body = [s.format(**fill) for s in shared[:1]] + [w.paragraph() for _ in range(r.randint(1, 5))]
        body += [s.format(**fill) for s in shared[1:]]
        title = f"{w.title()} tỉnh {host}"
        out.append(Art(f"n{start + i:07d}", r.choice(SITES), title, frame.format(**fill), body,
                       w.name(), day, -2 - group, "negative", [kind]))
    return out


def generate(n: int, seed: int = 7) -> list[Art]:
    """About n articles: ~9% originals with copies (groups of 2-5), ~6% hard negatives, the rest
    unrelated; returned in no particular order (ids say what they are)."""
    w = Writer(seed)
    r = w.rng
    arts: list[Art] = []
    start = datetime(2024, 1, 1, 6, 0)
    group = 0
    neg_group = 0
    while len(arts) < n:
        when = start + timedelta(minutes=r.randint(0, 60 * 24 * 700))
        u = r.random()
        body = [w.paragraph() for _ in range(r.randint(4, 9))]
        site = r.choice(SITES)
        if u < 0.09:
            syndicated = r.random() < 0.5
            author = r.choice(AGENCY_BYLINES) if syndicated else w.name()
            orig = Art(f"o{len(arts):07d}", site, w.title(), w.sentence(), body, author, when, group, "original")
            arts.append(orig)
            for _ in range(r.choices([1, 2, 3, 4], weights=[70, 18, 8, 4])[0]):
                other = r.choice([s for s in SITES if s != site])
                arts.append(make_copy(w, orig, len(arts), other, syndicated))
            group += 1
        elif u < 0.12:
            arts += make_negatives(w, len(arts), when, neg_group, r.choice([2, 2, 3]))
            neg_group += 1
        else:
            arts.append(Art(f"p{len(arts):07d}", site, w.title(), w.sentence(), body, w.name(), when))
    return arts[:n] if len(arts) > n else arts


# --- the database ----------------------------------------------------------------------------------
ARTICLES_DDL = """CREATE TABLE articles (id TEXT PRIMARY KEY, url TEXT, canonical_url TEXT, site TEXT, title TEXT,
    sapo TEXT, body TEXT, author TEXT, published_at TEXT, modified_at TEXT, category TEXT, tags TEXT,
    images TEXT, blocks TEXT, field_sources TEXT, text TEXT, content_hash TEXT, first_seen TEXT,
    last_seen TEXT, crawl_id INTEGER, rechecked_at TEXT, gone_at TEXT)"""


def store(db: Path, arts: list[Art]) -> None:
    """The articles table the crawler writes, with the columns near-duplicate detection reads filled
    (no FTS index, no rendered documents: not what is measured)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(ARTICLES_DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    rows = []
    for a in arts:
        body = "\n\n".join(a.body)
        published = a.published.strftime("%Y-%m-%dT%H:%M:00+07:00")
        url = f"https://{default_registry()[a.site].domain}/{a.id}.html"
        content = hashlib.blake2b("\n".join([a.title, a.sapo, body]).encode(), digest_size=16).hexdigest()
        rows.append((a.id, url, url, a.site, a.title, a.sapo, body, a.author, published, content,
                     "2026-01-01T00:00:00+00:00"))
    with conn:
        conn.executemany("INSERT INTO articles (id, url, canonical_url, site, title, sapo, body, author, "
                         "published_at, content_hash, first_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()


_CHILD = """
import json, sys
from crawler.cli import main
code = main(sys.argv[1:])
peak = next((int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")), 0)
print(json.dumps({"peak_rss_kb": peak}), file=sys.stderr)
sys.exit(code)
"""


def run_measured(args: list[str]) -> tuple[dict, float, float]:
    """`python -m crawler ...` in its own process: (its JSON line, wall seconds, its peak RSS in MB).
    The peak is the process' own high-water mark (VmHWM, which exec resets), not the rusage of the
    fork, which would count this process' generated corpus."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"crawler {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    peak = json.loads(proc.stderr.strip().splitlines()[-1])["peak_rss_kb"]
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, peak / 1024


# --- scoring ---------------------------------------------------------------------------------------
def truth_pairs(arts: list[Art]) -> set[tuple[str, str]]:
    groups: dict[int, list[str]] = {}
    for a in arts:
        if a.group >= 0:
            groups.setdefault(a.group, []).append(a.id)
    return {tuple(sorted(p)) for ids in groups.values() for p in combinations(ids, 2)}


def cluster_pairs(db: Path, restrict: set[str] | None = None) -> set[tuple[str, str]]:
    conn = sqlite3.connect(db)
    clusters: dict[int, list[str]] = {}
    for art_id, cid in conn.execute("SELECT article_id, cluster_id FROM cluster_members"):
        if restrict is None or art_id in restrict:
            clusters.setdefault(cid, []).append(art_id)
    conn.close()
    return {tuple(sorted(p)) for ids in clusters.values() for p in combinations(ids, 2)}


def prf(pred: set, truth: set) -> dict:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "true_pairs": len(truth), "found_pairs": len(pred), "correct": tp}


def components(edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """All pairs within the connected components of `edges` (how our clusters are formed)."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    comps: dict[str, list[str]] = {}
    for x in parent:
        comps.setdefault(find(x), []).append(x)
    return {tuple(sorted(p)) for ids in comps.values() for p in combinations(ids, 2)}


def sample_ids(arts: list[Art], size: int, seed: int = 3) -> list[Art]:
    """Whole planted groups and negative sets plus unrelated articles, about `size` in all, in the
    corpus' proportions."""
    units: dict[int, list[Art]] = {}
    for a in arts:
        units.setdefault(a.group if a.group != -1 else 10**9 + len(units), []).append(a)
    keys = list(units)
    random.Random(seed).shuffle(keys)
    out: list[Art] = []
    for k in keys:
        if len(out) >= size:
            break
        out += units[k]
    return out


def brute_force(arts: list[Art], k: int) -> tuple[dict[tuple[str, str], float], float]:
    """Exact Jaccard similarity of every pair of the sample (with any shingle in common), by one
    sparse matrix product: (pairs -> similarity, seconds)."""
    from scipy import sparse

    t = time.perf_counter()
    sets = [neardup.shingle_set("\n".join(neardup.matching_blocks(a.sapo, a.body)), k) for a in arts]
    sizes = np.array([len(s) for s in sets])
    cols, inverse = np.unique(np.concatenate(sets), return_inverse=True)
    rows = np.repeat(np.arange(len(arts)), sizes)
    x = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, inverse)), shape=(len(arts), len(cols)))
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    sim = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    seconds = time.perf_counter() - t
    ids = [a.id for a in arts]
    return {(min(ids[i], ids[j]), max(ids[i], ids[j])): float(s)
            for i, j, s in zip(inter.row.tolist(), inter.col.tolist(), sim.tolist(), strict=True)}, seconds


def signature_peer(arts: list[Art], params: neardup.Params) -> dict:
    """Signatures from the same shingle hashes: our vectorised `signatures` beside datasketch's
    `MinHash.bulk` (scheme affine32, the shingles' 32-bit hashes as input); and what the words
    cost before that (folding, shingling)."""
    from datasketch import MinHash

    texts = ["\n".join(neardup.matching_blocks(a.sapo, a.body)) for a in arts]
    perms = neardup.permutations(params.num_perm)
    t = time.perf_counter()
    tokens = [neardup.token_hashes(x) for x in texts]
    lengths = np.array([len(x) for x in tokens])
    hashes, counts = neardup._shingles_of_concat(np.concatenate(tokens), lengths, params.shingle)
    words = time.perf_counter() - t
    keep = counts > 0
    t = time.perf_counter()
    sigs = neardup.signatures(hashes, counts[keep], perms)
    ours = time.perf_counter() - t
    h32 = neardup.shingle_hash32(hashes).tolist()
    starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
    batches = [h32[starts[i]:starts[i + 1]] for i in np.flatnonzero(keep).tolist()]
    t = time.perf_counter()
    peer = MinHash.bulk(batches, num_perm=params.num_perm, seed=params.seed, scheme="affine32", hashfunc=int)
    theirs = time.perf_counter() - t
    same = all(np.array_equal(sigs[i], m.hashvalues) for i, m in enumerate(peer))
    return {"articles": len(texts), "words_and_shingles_ms_per_article": 1000 * words / len(texts),
            "ours_ms_per_article": 1000 * ours / len(texts),
            "datasketch_bulk_ms_per_article": 1000 * theirs / len(texts),
            "speedup": theirs / ours, "identical_signatures": same}


# --- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 articles, sample 500: a smoke run")
    ap.add_argument("--articles", type=int, help="articles indexed by the rebuild (default 100,000)")
    ap.add_argument("--new", type=int, help="articles then indexed incrementally (default 1,000)")
    ap.add_argument("--sample", type=int, help="brute-force sample size (default 2,000)")
    ap.add_argument("--threshold", type=float, default=neardup.DEFAULT_THRESHOLD)
    ap.add_argument("--shingle", type=int, default=neardup.DEFAULT_SHINGLE)
    ap.add_argument("--perm", type=int, default=neardup.DEFAULT_PERM)
    ap.add_argument("--keep", help="keep the database at this path")
    args = ap.parse_args(argv)
    n = args.articles or (10_000 if args.quick else 100_000)
    n_new = args.new or (200 if args.quick else 1_000)
    n_sample = args.sample or (500 if args.quick else 2_000)
    params = neardup.Params.make(args.threshold, args.shingle, args.perm)

    t = time.perf_counter()
    arts = generate(n + n_new)
    rng = random.Random(11)
    # The new articles: the last n_new generated are unrelated ones and copies; make a tenth of them
    # copies of already indexed originals, so that the query path finds something.
    base, new = arts[:n], arts[n:]
    originals = [a for a in base if a.kind == "original"]
    w = Writer(99)
    for i in range(0, len(new), 10):
        orig = rng.choice(originals)
        new[i] = make_copy(w, orig, 9_000_000 + i, rng.choice([s for s in SITES if s != orig.site]),
                           orig.author in AGENCY_BYLINES)
    arts = base + new
    gen_seconds = time.perf_counter() - t
    words = [sum(len(p.split()) for p in (a.sapo, *a.body)) for a in arts[:2000]]
    print(f"generated {len(arts):,} articles in {gen_seconds:.0f} s ({np.mean(words):.0f} words each on average; "
          f"{sum(a.kind == 'copy' for a in arts):,} planted copies in {len({a.group for a in arts if a.group >= 0}):,} "
          f"groups, {sum(a.kind == 'negative' for a in arts):,} hard negatives)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.keep) if args.keep else Path(tmp) / "neardup.db"
        if db.exists():
            db.unlink()
        store(db, base)
        opts = ["--threshold", str(params.threshold), "--shingle", str(params.shingle), "--perm", str(params.num_perm)]
        built, build_wall, build_rss = run_measured(["dedupe", "--rebuild", "--db", str(db), "--json", *opts])
        print(f"indexing {n:,} articles (dedupe --rebuild): {build_wall:.1f} s wall, {built['seconds']:.1f} s in "
              f"the index ({', '.join(f'{k} {v:.1f} s' for k, v in built['timings'].items())}), "
              f"peak RSS {build_rss:.0f} MB; {built['candidates']:,} candidate pairs, {built['compared']:,} compared",
              flush=True)
        store(db, new)
        inc, inc_wall, inc_rss = run_measured(["dedupe", "--db", str(db), "--json"])
        query_ms = 1000 * inc["seconds"] / max(1, inc["indexed"])
        print(f"query: {inc['indexed']:,} new articles indexed incrementally against {n:,}: {query_ms:.2f} ms per "
              f"article ({inc['near_duplicates']} linked to a cluster), {inc_wall:.1f} s wall, peak RSS "
              f"{inc_rss:.0f} MB", flush=True)

        truth = truth_pairs(arts)
        found = cluster_pairs(db)
        overall = prf(found, truth)
        # Per copy: is it in one cluster with its original (what a reader of the deduped corpus sees)?
        conn = sqlite3.connect(db)
        cluster_of = dict(conn.execute("SELECT article_id, cluster_id FROM cluster_members"))
        conn.close()
        original_of = {a.group: a.id for a in arts if a.kind == "original"}
        copies = [a for a in arts if a.kind == "copy" and a.group in original_of]
        linked = sum(1 for a in copies if cluster_of.get(a.id) is not None
                     and cluster_of.get(a.id) == cluster_of.get(original_of[a.group]))
        overall["copies_with_their_original"] = round(linked / len(copies), 4)
        print(f"clusters over all {len(arts):,} articles: precision {overall['precision']:.4f}, recall "
              f"{overall['recall']:.4f} ({overall['correct']:,} of {overall['true_pairs']:,} planted pairs; "
              f"{overall['found_pairs']:,} pairs found); {overall['copies_with_their_original']:.4f} of the "
              f"copies in one cluster with their original", flush=True)

        sample = sample_ids(arts, n_sample)
        sample_set = {a.id for a in sample}
        exact, bf_seconds = brute_force(sample, params.shingle)
        s_truth = {p for p in truth if p[0] in sample_set and p[1] in sample_set}
        ours_sample = prf(cluster_pairs(db, sample_set), s_truth)
        bf_pairs = components([p for p, s in exact.items() if s >= params.threshold])
        bf = prf(bf_pairs, s_truth)
        sweep = {}
        for th in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9):
            sweep[str(th)] = prf(components([p for p, s in exact.items() if s >= th]), s_truth)
        all_pairs = len(sample) * (len(sample) - 1) // 2
        print(f"brute force on a sample of {len(sample):,} ({all_pairs:,} pairs): {bf_seconds:.2f} s "
              f"(about {bf_seconds * (len(arts) / len(sample)) ** 2 / 60:.0f} min for all {len(arts):,}); "
              f"precision {bf['precision']:.4f}, recall {bf['recall']:.4f}; ours on the same sample: precision "
              f"{ours_sample['precision']:.4f}, recall {ours_sample['recall']:.4f}", flush=True)
        dup_sims = sorted(s for p, s in exact.items() if p in s_truth)
        neg_ids = {a.id for a in sample if a.kind == "negative"}
        groups = {a.id: a.group for a in sample}
        neg_sims = sorted(s for p, s in exact.items() if p[0] in neg_ids and p[1] in neg_ids
                          and groups[p[0]] == groups[p[1]])
        other_sims = [s for p, s in exact.items() if p not in s_truth and not (p[0] in neg_ids and p[1] in neg_ids)]

        def pct(xs, q):
            return round(float(np.percentile(xs, q)), 3) if len(xs) else None

        dist = {"planted_duplicate_pairs": {q: pct(dup_sims, q) for q in (1, 5, 25, 50)} | {"n": len(dup_sims)},
                "hard_negative_pairs": {q: pct(neg_sims, q) for q in (50, 95, 99, 100)} | {"n": len(neg_sims)},
                "other_pairs": {q: pct(other_sims, q) for q in (50, 99, 100)} | {"n": len(other_sims)}}
        print(f"exact Jaccard on the sample: duplicate pairs p1/p5/p50 {dist['planted_duplicate_pairs'][1]}/"
              f"{dist['planted_duplicate_pairs'][5]}/{dist['planted_duplicate_pairs'][50]}; hard negatives "
              f"p50/p99/max {dist['hard_negative_pairs'][50]}/{dist['hard_negative_pairs'][99]}/"
              f"{dist['hard_negative_pairs'][100]}; other pairs max {dist['other_pairs'][100]}")
        print("threshold sweep (brute force on the sample): " + ", ".join(
            f"{th}: P {r['precision']:.3f} R {r['recall']:.3f}" for th, r in sweep.items()))

        peer = signature_peer(sample[:1000], params)
        print(f"signatures from the same shingles: ours {peer['ours_ms_per_article']:.3f} ms/article, datasketch "
              f"MinHash.bulk {peer['datasketch_bulk_ms_per_article']:.3f} ms/article ({peer['speedup']:.1f}x), "
              f"identical: {peer['identical_signatures']}; folding and shingling before them "
              f"{peer['words_and_shingles_ms_per_article']:.3f} ms/article")
        db_mb = sum(f.stat().st_size for f in db.parent.glob(db.name + "*")) / 2**20
        conn = sqlite3.connect(db)
        sizes = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                 for t in ("articles", "minhash", "lsh_bands", "clusters", "cluster_members")}
        conn.close()

    bf_all = bf_seconds * (len(arts) / len(sample)) ** 2
    result = {
        "quick": args.quick, "machine": machine(),
        "articles": n, "new_articles": n_new, "params": params.__dict__,
        "corpus": {"generated_seconds": round(gen_seconds, 1), "mean_words": float(np.mean(words)),
                   "planted_copies": sum(a.kind == "copy" for a in arts),
                   "groups": len({a.group for a in arts if a.group >= 0}),
                   "hard_negatives": sum(a.kind == "negative" for a in arts)},
        "indexing": {"wall_seconds": round(build_wall, 2), "index_seconds": built["seconds"],
                     "timings": built["timings"], "peak_rss_mb": round(build_rss, 1),
                     "articles_per_s": round(n / build_wall), "candidates": built["candidates"],
                     "compared": built["compared"], "pairs": built["pairs"], "clusters": built["clusters"]},
        "query": {"articles": inc["indexed"], "ms_per_article": round(query_ms, 3), "wall_seconds": round(inc_wall, 2),
                  "peak_rss_mb": round(inc_rss, 1), "linked": inc["near_duplicates"]},
        "quality": overall,
        "sample": {"articles": len(sample), "pairs": all_pairs, "brute_force_seconds": round(bf_seconds, 3),
                   "brute_force_minutes_for_all_extrapolated": round(bf_all / 60, 1),
                   "ratio_brute_force_all_over_our_indexing": round(bf_all / build_wall, 1),
                   "brute_force": bf, "ours": ours_sample, "similarity_distribution": dist, "threshold_sweep": sweep},
        "signatures": peer, "database": {"mb": round(db_mb, 1), "rows": sizes},
    }
    path = write_json("neardup", result)
    target = build_wall < 60 and overall["precision"] > 0.95 and overall["recall"] > 0.95
    print(f"target (all indexed in under a minute, precision and recall above 0.95): "
          f"{'met' if target else 'NOT met'}; wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
