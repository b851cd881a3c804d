"""A local mirror that changes between crawls: new articles are published, one is edited, one deleted.

The tree is a copy of the repository's content files for a few papers (with seeds/ and
mirror/templates/ linked in), rebuilt with `crawler.fixtures.build_mirror` after each change; the
MirrorServer serving it picks the new `_routes.json` up by itself. Dates are set relative to now,
so that "young" articles fall inside the recheck window whatever day the tests run.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from crawler.fixtures import build_mirror

REPO = Path(__file__).resolve().parent.parent
ICT = timezone(timedelta(hours=7))
PAPERS = ("baolaocai", "baocantho")  # F1 with a sitemap, F4 with an RSS feed
# A new article's path, per paper, in its article_pattern.
NEW_PATH = {"baolaocai": "/ban-tin-moi-so-{n}-post{num}.html", "baocantho": "/ban-tin-moi-so-{n}-a{num}.html"}


def ago(hours: float) -> str:
    """A content `published` value (Asia/Ho_Chi_Minh wall time) `hours` before now."""
    return (datetime.now(ICT) - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def dump_content(content: dict) -> str:
    out = []
    for table in ("sections", "articles"):
        for row in content.get(table, []):
            out.append(f"[[{table}]]")
            out += [f"{k} = {_toml(v)}" for k, v in row.items()]
            out.append("")
    return "\n".join(out)


class EvolvingMirror:
    def __init__(self, root: Path, papers=PAPERS):
        self.root, self.sites = Path(root), Path(root) / "sites"
        (self.root / "mirror" / "content").mkdir(parents=True)
        os.symlink(REPO / "seeds", self.root / "seeds")
        os.symlink(REPO / "mirror" / "templates", self.root / "mirror" / "templates")
        self.seeds = {k: tomllib.loads((REPO / "seeds" / f"{k}.toml").read_text("utf-8")) for k in papers}
        self.content = {
            k: tomllib.loads((REPO / "mirror" / "content" / f"{k}.toml").read_text("utf-8")) for k in papers
        }
        self.published = 0

    def build(self) -> None:
        for key, content in self.content.items():
            (self.root / "mirror" / "content" / f"{key}.toml").write_text(dump_content(content), "utf-8")
        build_mirror(self.root, out=self.sites)

    def url(self, key: str, path: str) -> str:
        return f"https://{self.seeds[key]['domains'][0]}{path}"

    def plain_articles(self, key: str) -> list[dict]:
        """Articles sure to be stored as themselves: kind article, a date, a body, no aliases or variant."""
        return [a for a in self.content[key]["articles"]
                if a.get("kind", "article") == "article" and a.get("published") and a.get("body")
                and not a.get("aliases") and not a.get("variant")]

    def article(self, key: str, path: str) -> dict:
        return next(a for a in self.content[key]["articles"] if a["path"] == path)

    def make_young(self, key: str, n: int, hours: float = 20) -> list[str]:
        """Date n plain articles `hours` ago (inside the default 48 h recheck window); their URLs."""
        chosen = self.plain_articles(key)[:n]
        for i, a in enumerate(chosen):
            a["published"] = ago(hours + i)
        return [self.url(key, a["path"]) for a in chosen]

    def publish(self, key: str) -> str:
        self.published += 1
        n = self.published
        section = self.content[key]["sections"][n % len(self.content[key]["sections"])]["path"]
        path = NEW_PATH[key].format(n=n, num=900000 + n) if key in NEW_PATH else self.new_path(key, n)
        self.content[key]["articles"].append({
            "path": path, "section": section, "kind": "article", "published": ago(1 + n / 60),
            "title": f"Bản tin mới số {n}: tỉnh triển khai kế hoạch phát triển nông thôn mới",
            "sapo": f"Bản tin số {n} tóm tắt các hoạt động nổi bật trong tuần của địa phương.",
            "body": [f"Đoạn thứ nhất của bản tin số {n} nói về tiến độ xây dựng các công trình giao thông.",
                     f"Đoạn thứ hai của bản tin số {n} nói về kết quả thu hoạch vụ đông xuân."],
            "byline": "Phóng viên", "tags": ["Nông thôn mới"],
        })
        return self.url(key, path)

    def new_path(self, key: str, n: int) -> str:
        """A fresh article path for any paper, derived from a stored article's path and checked
        against the paper's article pattern: its id (the last run of 4+ digits) replaced by a new
        number of the same width, or else its last segment prefixed with a new slug."""
        from crawler.registry import default_registry

        site = default_registry()[key]
        taken = {a["path"] for a in self.content[key]["articles"]}
        for a in self.plain_articles(key) or self.content[key]["articles"]:
            path = a["path"]
            candidates = []
            digits = [m for m in re.finditer(r"\d+", path) if len(m.group()) >= 4]
            if digits:
                last = digits[-1]
                number = f"9{n:0{len(last.group()) - 1}d}"
                candidates.append(path[: last.start()] + number + path[last.end():])
            head, sep, tail = path.rstrip("/").rpartition("/")
            candidates.append(f"{head}{sep}ban-tin-moi-so-{n}-{tail}" + ("/" if path.endswith("/") else ""))
            for candidate in candidates:
                if candidate not in taken and site.is_article_url(self.url(key, candidate)):
                    return candidate
        raise ValueError(f"{key}: no stored article path to derive a new one from")

    def edit(self, key: str, path: str) -> None:
        a = self.article(key, path)
        a["body"] = [*a["body"], "Cập nhật: số liệu trong bài đã được điều chỉnh theo báo cáo mới nhất."]

    def delete(self, key: str, path: str) -> None:
        self.content[key]["articles"].remove(self.article(key, path))


def refresh(db: Path, mirror_url: str, *args: str, keys=PAPERS, timeout: float = 240,
            background: bool = False):
    """`python -m crawler refresh` in its own process, as cron runs it."""
    cmd = [sys.executable, "-m", "crawler", "refresh", "--db", str(db), "--mirror", mirror_url, "--fast",
           *args, *keys]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MIRROR_URL", None)
    if background:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def article_paths(requests, keys=PAPERS) -> list[str]:
    """The article pages among a MirrorServer's logged requests, as https URLs."""
    from crawler.registry import default_registry

    registry = default_registry()
    out = []
    for _method, raw, _status in requests:
        host, _, rest = urlsplit(raw).path.lstrip("/").partition("/")
        site = registry.for_host(host)
        url = f"https://{host}/{rest}"
        if site and site.key in keys and site.is_article_url(url):
            out.append(url)
    return out


def crawl_rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM crawls ORDER BY id")]
    conn.close()
    for r in rows:
        r["stats"] = json.loads(r["stats"] or "{}")
    return rows


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
