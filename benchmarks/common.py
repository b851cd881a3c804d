"""Shared pieces of the crawl and storage benchmarks (not a benchmark itself).

- Generated Vietnamese-looking articles (deterministic, seeded): `gen_article(rng, i)`.
- A generated mirror: `generate_mirror(n, workdir)` writes mirror/content/<key>.toml for the four
  benchmark papers into a temporary root (seeds/ and mirror/templates/ symlinked to the repo's)
  and renders it with `crawler.fixtures.build_mirror` into a static site tree.
- The mirror served by a separate process (`python -m crawler mirror --root DIR --port P`).
- Running a measured child process and reading its own peak RSS (os.wait4 gives the rusage of
  that child alone, so sequential runs do not mix).

Why every generated article is discoverable by the real spider: the spider starts only from the
seed's home page, its seed sections (and their pagination, NEWS_MAX_LISTING_PAGES deep), its
listing API, feeds and sitemaps; `build_mirror` always splits a section's listing in exactly two
pages (F6: two JSON API pages, then an empty one), whatever the number of articles. So putting all
generated articles into the two seed sections of each paper makes them reachable within 2 listing
pages (page 1 links to page 2), and the big listing pages (hundreds to thousands of links) are
part of what is measured. Extra content sections would not help (the spider only reads the seed's
sections), and only baolaocai has a sitemap (it lists every article too) and baocantho an RSS feed.
The crawl benchmarks check that the number of stored articles equals the number generated.
"""

from __future__ import annotations

import ast
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
PY = sys.executable

# The four papers of the benchmark mirror, one per CMS family present in the templates.
PAPERS = ("baocaobang", "baonamdinh", "baocantho", "baolaocai")  # F6, F3, F4, F1

# --- generated text --------------------------------------------------------------------------------
SUBJECTS = [
    "UBND tỉnh", "Ban Thường vụ Tỉnh ủy", "Sở Nông nghiệp và Môi trường", "Sở Giáo dục và Đào tạo",
    "Trung tâm Y tế huyện", "Hội Nông dân xã", "Đoàn Thanh niên", "Hội Liên hiệp Phụ nữ tỉnh",
    "Bộ đội Biên phòng tỉnh", "Công an tỉnh", "Ủy ban MTTQ Việt Nam tỉnh", "HĐND tỉnh",
    "Sở Văn hóa, Thể thao và Du lịch", "Ban Quản lý các khu công nghiệp", "Chi cục Kiểm lâm",
    "Ngân hàng Chính sách xã hội", "Liên đoàn Lao động tỉnh", "Hội Cựu chiến binh", "Sở Y tế",
]
VERBS = [
    "tổ chức", "triển khai", "kiểm tra", "tổng kết", "phát động", "hỗ trợ", "đẩy mạnh", "ra quân",
    "khánh thành", "khởi công", "trao tặng", "hướng dẫn", "phối hợp thực hiện", "đánh giá",
    "tuyên truyền", "nghiệm thu", "rà soát", "thúc đẩy",
]
OBJECTS = [
    "chương trình mục tiêu quốc gia xây dựng nông thôn mới", "công tác phòng chống thiên tai",
    "dự án đường giao thông liên xã", "mô hình trồng cây ăn quả theo hướng hữu cơ",
    "chiến dịch tiêm chủng mở rộng", "phong trào toàn dân bảo vệ an ninh Tổ quốc",
    "kế hoạch chuyển đổi số cấp xã", "hội thi văn nghệ quần chúng", "tháng hành động vì môi trường",
    "công tác cải cách hành chính", "lớp tập huấn kỹ thuật chăn nuôi", "nhà đại đoàn kết cho hộ nghèo",
    "công trình thủy lợi đầu mối", "hoạt động xúc tiến thương mại nông sản", "lễ hội văn hóa truyền thống",
    "giải chạy việt dã báo chí", "tuyến kè chống sạt lở bờ sông", "trường học đạt chuẩn quốc gia",
    "chợ phiên vùng cao", "chương trình khuyến học khuyến tài",
]
PLACES = [
    "xã Tân Lập", "huyện Bảo Lâm", "phường Trần Hưng Đạo", "xã Y Tý", "thị trấn Sa Pa", "huyện Hải Hậu",
    "quận Ninh Kiều", "xã Phong Điền", "huyện Bát Xát", "xã Hồng Việt", "huyện Nguyên Bình",
    "xã Giao Thủy", "phường Cái Khế", "huyện Thới Lai", "xã Lý Bôn", "huyện Văn Bàn", "xã Nghĩa Hưng",
]
CLAUSES = [
    "góp phần nâng cao đời sống vật chất và tinh thần của người dân",
    "tạo sự chuyển biến rõ nét trong nhận thức của cán bộ, đảng viên",
    "bảo đảm tiến độ, chất lượng và an toàn lao động",
    "thu hút đông đảo người dân và du khách tham gia",
    "đáp ứng yêu cầu phát triển kinh tế - xã hội của địa phương",
    "tiếp tục khẳng định vai trò của hệ thống chính trị cơ sở",
    "từng bước hình thành vùng sản xuất hàng hóa tập trung",
    "giúp bà con yên tâm ổn định cuộc sống, phát triển sản xuất",
    "với sự tham gia của hơn {n} hộ gia đình",
    "với tổng kinh phí khoảng {n} triệu đồng",
    "trong đó {p}% là đồng bào dân tộc thiểu số",
    "tăng {p}% so với cùng kỳ năm trước",
]
OPENERS = [
    "Sáng {d}/{m},", "Chiều {d}/{m},", "Ngày {d}/{m},", "Trong những ngày qua,", "Thời gian gần đây,",
    "Theo báo cáo,", "Tại buổi làm việc,", "Năm {y},", "Từ đầu năm đến nay,", "Phát biểu tại hội nghị,",
]
QUOTES = [
    "Ông Nguyễn Văn {nm}, Chủ tịch UBND xã cho biết: “Địa phương sẽ tiếp tục huy động mọi nguồn lực để hoàn thành mục tiêu đề ra”.",
    "Bà Hoàng Thị {nm}, người dân địa phương chia sẻ, nhờ được hỗ trợ kịp thời, gia đình bà đã có thêm thu nhập ổn định.",
    "Lãnh đạo ngành đề nghị các đơn vị tăng cường kiểm tra, giám sát, kịp thời tháo gỡ khó khăn, vướng mắc phát sinh.",
    "Đại diện đơn vị thi công cam kết huy động thêm máy móc, nhân lực để bàn giao công trình đúng hạn.",
]
NAMES = ["Minh", "Hùng", "Lan", "Hoa", "Tuấn", "Thảo", "Quang", "Hằng", "Dũng", "Nga", "Sơn", "Yến", "Khánh", "Trang"]
FAMILY_NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Nông", "Đàm", "Lò", "Hà"]
TAGS = ["Nông thôn mới", "Chuyển đổi số", "Y tế", "Giáo dục", "Du lịch", "Biên giới", "Thiên tai",
        "Giao thông", "Văn hóa", "Môi trường", "Cải cách hành chính", "Khuyến học", "Đầu tư công"]
IMAGE_BASES = {
    "baocaobang": "https://media.baocaobang.vn/upload/image/{ym}/medium/{n}_{slug}.jpg",
    "baonamdinh": "https://baonamdinh.vn/file/e7837c02816d130b0181a995d7ad7e96/{ym}/{slug}-{n}.jpg",
    "baocantho": "https://baocantho.com.vn/image/fckeditor/upload/{y}/{ym}/images/{slug}-{n}.jpg",
    "baolaocai": "https://cdn.baolaocai.vn/images/{h}/{y}/{m2}/{d2}/{slug}-{n}.jpg",
}


def _fill(rng: random.Random, text: str, when: datetime) -> str:
    return text.format(d=when.day, m=when.month, y=when.year, n=rng.randint(12, 9800), p=rng.randint(3, 96),
                       nm=rng.choice(NAMES))


def sentence(rng: random.Random, when: datetime) -> str:
    s = f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} tại {rng.choice(PLACES)}"
    if rng.random() < 0.7:
        s += f", {rng.choice(CLAUSES)}"
    return _fill(rng, s + ".", when)


def paragraph(rng: random.Random, when: datetime) -> str:
    parts = [sentence(rng, when) for _ in range(rng.randint(2, 5))]
    if rng.random() < 0.25:
        parts.insert(rng.randrange(len(parts) + 1), _fill(rng, rng.choice(QUOTES), when))
    return " ".join(parts)


def slugify(text: str) -> str:
    from crawler.fixtures import _slug  # the builder's own slug rule

    return _slug(text)


@dataclass
class GenArticle:
    title: str
    sapo: str
    body: list = field(default_factory=list)  # str paragraphs and {"image", "caption"} dicts
    byline: str = ""
    tags: list = field(default_factory=list)
    published: datetime = datetime(2024, 1, 1)


def gen_article(rng: random.Random, i: int, key: str = "baocaobang") -> GenArticle:
    """One article's content; `i` makes the title and a figure in the first paragraph unique."""
    when = datetime(2023, 1, 1, 6, 0) + timedelta(minutes=37 * i + rng.randint(0, 30))
    title = (f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} tại {rng.choice(PLACES)}"
             f" (đợt {i % 97 + 1}, số {i})")
    sapo = sentence(rng, when)
    body: list = [paragraph(rng, when) + f" Mã hồ sơ {i:06d}."]
    for _ in range(rng.randint(3, 9)):
        if rng.random() < 0.18:
            cap = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
            slug = slugify(cap)[:40]
            img = IMAGE_BASES[key].format(
                ym=when.strftime("%Y%m"), y=when.year, m2=f"{when.month:02d}", d2=f"{when.day:02d}",
                n=400000 + i, slug=slug, h=f"{(i * 2654435761) % 2**64:016x}",
            )
            body.append({"image": img, "caption": cap})
        else:
            body.append(paragraph(rng, when))
    byline = rng.choice(["", "Tin, ảnh: "]) + f"{rng.choice(FAMILY_NAMES)} {rng.choice(NAMES)}"
    return GenArticle(title, sapo, body, byline, rng.sample(TAGS, rng.randint(1, 3)), when)


# --- generated mirror ------------------------------------------------------------------------------
def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _article_path(key: str, g: GenArticle, i: int, section: str) -> str:
    slug = slugify(g.title)[:80].strip("-")
    if key == "baonamdinh":  # F3: /channel/<id>/<yyyymm>/<slug>-<num>/
        return f"{section.rstrip('/')}/{g.published:%Y%m}/{slug}-{2600000 + i}/"
    if key == "baocantho":  # F4: /<slug>-a<num>.html
        return f"/{slug}-a{200000 + i}.html"
    if key == "baolaocai":  # F1: /<slug>-post<num>.html
        return f"/{slug}-post{410000 + i}.html"
    return f"/{slug}-{3200000 + i}.html"  # F6: /<slug>-<num>.html


def content_toml(key: str, seed: dict, n: int, seed_no: int = 0) -> str:
    """mirror/content/<key>.toml with `n` generated articles spread over the seed's sections."""
    rng = random.Random(f"{key}-{seed_no}")
    sections = [(urlsplit(s["url"]).path, s["name"]) for s in seed["sections"]]
    out = ["# Generated by benchmarks/common.py: benchmark content, not fixtures.\n"]
    for path, name in sections:
        out.append(f"[[sections]]\npath = {_toml_str(path)}\nname = {_toml_str(name)}\n")
    for i in range(n):
        g = gen_article(rng, i, key)
        section = sections[i % len(sections)][0]
        body = ",\n".join(
            "  " + (_toml_str(b) if isinstance(b, str)
                    else f"{{ image = {_toml_str(b['image'])}, caption = {_toml_str(b['caption'])} }}")
            for b in g.body
        )
        variant = "entities" if i % 10 == 3 else ""
        out.append(
            "[[articles]]\n"
            f"path = {_toml_str(_article_path(key, g, i, section))}\n"
            f"section = {_toml_str(section)}\n"
            'kind = "article"\n'
            f"title = {_toml_str(g.title)}\n"
            f"published = \"{g.published:%Y-%m-%d %H:%M}\"\n"
            f"sapo = {_toml_str(g.sapo)}\n"
            f"body = [\n{body},\n]\n"
            f"byline = {_toml_str(g.byline)}\n"
            f"tags = [{', '.join(_toml_str(t) for t in g.tags)}]\n"
            f"variant = \"{variant}\"\naliases = []\n"
        )
    return "\n".join(out)


@dataclass
class Mirror:
    root: Path  # the temporary root (seeds/, mirror/templates/ symlinked; mirror/content generated)
    sites: Path  # the built static site tree
    articles: dict  # key -> list of article URLs (https://<paper domain>/...)
    build_seconds: float

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.articles.values())


def split_counts(n: int, keys=PAPERS) -> dict[str, int]:
    base, extra = divmod(n, len(keys))
    return {k: base + (1 if j < extra else 0) for j, k in enumerate(keys)}


def generate_mirror(n: int, workdir: Path, keys=PAPERS) -> Mirror:
    """Generate `n` articles over `keys` and build the static mirror under workdir."""
    from crawler.fixtures import build_mirror, load_seeds

    t = time.perf_counter()
    root = Path(workdir) / f"root-{n}"
    (root / "mirror" / "content").mkdir(parents=True, exist_ok=True)
    for link, target in ((root / "seeds", REPO / "seeds"), (root / "mirror" / "templates", REPO / "mirror" / "templates")):
        if not link.exists():
            link.symlink_to(target, target_is_directory=True)
    seeds = load_seeds(root)
    for key, count in split_counts(n, keys).items():
        (root / "mirror" / "content" / f"{key}.toml").write_text(content_toml(key, seeds[key], count), "utf-8")
    sites = Path(workdir) / f"sites-{n}"
    build_mirror(root, out=sites)
    articles = {}
    for key in keys:
        content = tomllib.loads((root / "mirror" / "content" / f"{key}.toml").read_text("utf-8"))
        base = f"https://{seeds[key]['domains'][0]}"
        articles[key] = [base + a["path"] for a in content["articles"]]
    built = time.perf_counter() - t
    # Write the new files out now, so that the crawl's SQLite fsyncs do not wait behind their writeback.
    os.sync()
    return Mirror(root, sites, articles, built)


# --- the mirror in its own process ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MirrorProcess:
    """`python -m crawler mirror --root SITES --port P` as a child process; a context manager."""

    def __init__(self, sites: Path):
        self.sites, self.port = Path(sites), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> MirrorProcess:
        cmd = [PY, "-m", "crawler", "mirror", "--root", str(self.sites), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=child_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/baolaocai.vn/robots.txt", timeout=2) as r:
                    r.read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mirror server exited with {self.proc.returncode}") from None
                time.sleep(0.1)
        raise RuntimeError("mirror server did not come up in 30 s")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the mirror process has used so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def child_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MIRROR_URL", None)
    env.pop("DB_PATH", None)
    return env


# --- measured child processes ---------------------------------------------------------------------
@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system CPU seconds of the child (less sensitive to a busy machine than wall)
    peak_rss_mb: float
    returncode: int
    stats: dict
    log_tail: str
    mirror_cpu_s: float = 0.0  # CPU the mirror server process spent during this run
    probe: dict = field(default_factory=dict)  # benchmarks/probe.py's record of the run
    listen_overflows: int = 0  # SYNs dropped by a full listen queue during the run (each ~1 s stall)

    @property
    def engine_s(self) -> float:
        """Scrapy's own elapsed_time_seconds (engine start to close), else the wall time."""
        return float(self.stats.get("elapsed_time_seconds") or self.wall_s)


def listen_overflows() -> int:
    """TcpExt ListenOverflows of this network namespace: connections the mirror's listen queue
    dropped (socketserver's default backlog is 5; a dropped SYN costs the client a 1 s retransmit)."""
    try:
        with open("/proc/net/netstat") as fh:
            rows = [line.split() for line in fh if line.startswith("TcpExt")]
        return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["ListenOverflows"])
    except (OSError, KeyError, IndexError, ValueError):
        return 0


# Children are started by a tiny launcher process, which waits for the child and reports its rusage.
# Linux keeps ru_maxrss across execve, and a child vforked/forked straight from this (possibly big)
# benchmark process would report at least this process's own peak RSS; the launcher's is ~10 MB.
LAUNCHER = """
import json, os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
p = subprocess.Popen(cmd)
_, status, ru = os.wait4(p.pid, 0)
wall = time.perf_counter() - t
with open(out, "w") as fh:
    json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
               "exit": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_measured(cmd: list[str], cwd: Path, log: Path, env: dict | None = None) -> Run:
    """Run `cmd` to completion: its wall time, CPU time and the peak RSS of that child alone
    (os.wait4 in a small launcher process, see LAUNCHER)."""
    overflows = listen_overflows()
    usage_file = Path(f"{log}.rusage.json")
    with open(log, "w", encoding="utf-8") as fh:
        rc = subprocess.call([PY, "-S", "-c", LAUNCHER, str(usage_file), *cmd], cwd=cwd, stdout=fh,
                             stderr=subprocess.STDOUT, env=env or child_env())
    text = log.read_text("utf-8", "replace")
    try:
        u = json.loads(usage_file.read_text("utf-8"))
    except (OSError, ValueError):
        u = {"wall_s": float("nan"), "cpu_s": float("nan"), "maxrss_kb": 0, "exit": rc or 1}
    # ru_maxrss is in KiB on Linux.
    run = Run(u["wall_s"], u["cpu_s"], u["maxrss_kb"] / 1024, u["exit"], parse_stats(text), text[-3000:])
    run.listen_overflows = listen_overflows() - overflows
    return run


def parse_stats(log_text: str) -> dict:
    """The dict Scrapy prints after 'Dumping Scrapy stats:' (a Python literal with datetimes)."""
    marker = "Dumping Scrapy stats:"
    pos = log_text.rfind(marker)
    if pos < 0:
        return {}
    start = log_text.find("{", pos)
    depth, end = 0, start
    for j in range(start, len(log_text)):
        c = log_text[j]
        depth += c == "{"
        depth -= c == "}"
        if depth == 0:
            end = j + 1
            break
    raw = log_text[start:end]
    out = {}
    for line in raw.strip("{}").splitlines():
        name, _, value = line.strip().rstrip(",").partition(": ")
        name = name.strip("'\"")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value  # datetimes stay text
    return out


PROBE = '{"benchmarks.probe.Probe": 0}'


def scrapy_crawl_cmd(key: str, db: Path, mirror_url: str, concurrency: int, probe: Path | None = None) -> list[str]:
    """Our full crawl of one paper: the real spider, extraction, pipelines, SQLite."""
    cmd = [
        PY, "-m", "scrapy", "crawl", key,
        "-s", f"DB_PATH={db}", "-s", f"MIRROR_URL={mirror_url}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
        "-s", "LOG_LEVEL=INFO",
    ]
    if probe:
        # -s EXTENSIONS replaces the project's dict: the probe is added to it, not put in its place.
        from crawler import settings

        extensions = json.dumps({**settings.EXTENSIONS, **json.loads(PROBE)})
        cmd += ["-s", f"EXTENSIONS={extensions}", "-s", f"BENCH_PROBE_FILE={probe}"]
    return cmd


def bare_crawl_cmd(urls_file: Path, mirror_url: str, concurrency: int, probe: Path | None = None) -> list[str]:
    cmd = [PY, str(REPO / "benchmarks" / "bare_spider.py"), "--urls", str(urls_file), "--mirror", mirror_url,
           "--concurrency", str(concurrency)]
    return cmd + (["--probe", str(probe)] if probe else [])


def read_probe(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def write_urls(path: Path, urls: list[str]) -> Path:
    path.write_text("\n".join(urls) + "\n", "utf-8")
    return path


def workdir(keep: str | None = None) -> Path:
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return Path(tempfile.mkdtemp(prefix="vnbench-"))


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    return path


def machine() -> dict:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_at_start": os.getloadavg()}


# --- one measured crawl of a generated mirror: ours and the bare peer, paper by paper -------------
def measure_crawl(m: Mirror, work: Path, concurrency: int = 16, tag: str = "") -> dict:
    """Per paper: `scrapy crawl KEY` (ours) then the bare spider on the same article URLs, from the
    same mirror process. Interleaved so a noisy neighbour hits both alike. Sums over papers; the peak
    RSS is the largest of the per-paper processes."""
    tag = tag or str(m.total)
    db = work / f"crawl-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    per_paper, problems = {}, []
    with MirrorProcess(m.sites) as mp:
        for key, urls in m.articles.items():
            probes = {who: work / f"probe-{who}-{tag}-{key}.json" for who in ("ours", "bare")}
            c0 = mp.cpu_s()
            ours = run_measured(scrapy_crawl_cmd(key, db, mp.url, concurrency, probes["ours"]), REPO,
                                work / f"ours-{tag}-{key}.log")
            c1 = mp.cpu_s()
            url_file = write_urls(work / f"urls-{tag}-{key}.txt", urls)
            bare = run_measured(bare_crawl_cmd(url_file, mp.url, concurrency, probes["bare"]), work,
                                work / f"bare-{tag}-{key}.log")
            c2 = mp.cpu_s()
            ours.mirror_cpu_s, bare.mirror_cpu_s = c1 - c0, c2 - c1
            ours.probe, bare.probe = read_probe(probes["ours"]), read_probe(probes["bare"])
            stored = int(ours.stats.get("articles/stored", 0))
            fetched = int(bare.stats.get("downloader/response_status_count/200", 0))
            for name, run in (("ours", ours), ("bare", bare)):
                if run.returncode != 0 or run.stats.get("finish_reason") != "finished":
                    problems.append(f"{name} {key}: exit {run.returncode}, finish {run.stats.get('finish_reason')}:"
                                    f" {run.log_tail[-400:]}")
            if stored != len(urls):
                problems.append(f"ours {key}: stored {stored} of {len(urls)} generated articles")
            if fetched != len(urls):
                problems.append(f"bare {key}: fetched {fetched} of {len(urls)} URLs")
            if ours.stats.get("log_count/ERROR"):
                problems.append(f"ours {key}: {ours.stats['log_count/ERROR']} ERROR log lines")
            per_paper[key] = {
                "articles": len(urls), "stored": stored,
                "ours": _run_dict(ours, len(urls)), "bare": _run_dict(bare, len(urls)),
            }
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n_db = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.close()
    n = m.total
    out = {"articles": n, "papers": list(m.articles), "concurrency": concurrency,
           "mirror_build_s": m.build_seconds, "db_articles": n_db,
           "db_mb_per_1000": db.stat().st_size / 2**20 / max(n_db, 1) * 1000, "per_paper": per_paper,
           "problems": problems}
    for who in ("ours", "bare"):
        runs = [p[who] for p in per_paper.values()]
        tot = {k: sum(r[k] for r in runs)
               for k in ("wall_s", "engine_s", "cpu_s", "mirror_cpu_s", "requests", "listen_overflows")}
        # Steady state (10 %..90 % of the responses of each paper), weighted by the paper's articles.
        rates = [(p["articles"], p[who]["steady_responses_per_s"]) for p in per_paper.values()]
        tot["steady_ms_per_article"] = (1000 * sum(a / r for a, r in rates) / n
                                        if all(r for _, r in rates) else float("nan"))
        tot["steady_articles_per_s"] = 1000 / tot["steady_ms_per_article"]
        cpus = [(p["articles"], p[who]["steady_cpu_ms_per_response"]) for p in per_paper.values()]
        tot["steady_cpu_ms_per_article"] = (sum(a * c for a, c in cpus) / n
                                            if all(c is not None for _, c in cpus) else float("nan"))
        tot["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        tot["articles_per_s_wall"] = n / tot["wall_s"]
        tot["articles_per_s_engine"] = n / tot["engine_s"]
        tot["ms_per_article_engine"] = 1000 * tot["engine_s"] / n
        tot["ms_per_article_wall"] = 1000 * tot["wall_s"] / n
        tot["cpu_ms_per_article"] = 1000 * tot["cpu_s"] / n
        tot["mirror_cpu_ms_per_article"] = 1000 * tot["mirror_cpu_s"] / n
        out[who] = tot
    o, b = out["ours"], out["bare"]
    out["ratio_ours_over_bare"] = {
        "articles_per_s_wall": o["articles_per_s_wall"] / b["articles_per_s_wall"],
        "articles_per_s_engine": o["articles_per_s_engine"] / b["articles_per_s_engine"],
        "cpu_per_article": o["cpu_s"] / b["cpu_s"],
        "peak_rss": o["peak_rss_mb"] / b["peak_rss_mb"],
        "steady_articles_per_s": o["steady_articles_per_s"] / b["steady_articles_per_s"],
        "steady_cpu_per_article": o["steady_cpu_ms_per_article"] / b["steady_cpu_ms_per_article"],
    }
    return out


def _run_dict(run: Run, n: int) -> dict:
    return {"wall_s": run.wall_s, "engine_s": run.engine_s, "cpu_s": run.cpu_s, "mirror_cpu_s": run.mirror_cpu_s,
            "peak_rss_mb": run.peak_rss_mb,
            "requests": int(run.stats.get("downloader/request_count", 0)), "returncode": run.returncode,
            "finish_reason": run.stats.get("finish_reason"), "listen_overflows": run.listen_overflows,
            "steady_responses_per_s": run.probe.get("steady_responses_per_s"), "vmhwm_mb": run.probe.get("vmhwm_mb"),
            "steady_cpu_ms_per_response": run.probe.get("steady_cpu_ms_per_response"),
            "engine_cpu_s": run.probe.get("engine_cpu_s"),
            "first_response_s": run.probe.get("first_response_s"), "last_response_s": run.probe.get("last_response_s"),
            "timeline": run.probe.get("timeline", [])}
